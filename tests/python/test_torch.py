"""sparsexbar.torch (skipped without torch): the W_eff state dict of any
nn.Module; zero parasitics give the weights back."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import sparsexbar  # noqa: E402
import sparsexbar.torch  # noqa: E402
from sparsexbar import CrossbarConfig  # noqa: E402


def small_net(dtype=torch.float32):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3, groups=4), torch.nn.Flatten(), torch.nn.Linear(8 * 4 * 4, 10))
    return net.to(dtype).eval()


def test_zero_parasitics_give_the_weights_back():
    net = small_net()
    weff = sparsexbar.torch.crossbar_state_dict(net, CrossbarConfig("ideal"), tile=16)
    for name, t in net.state_dict().items():
        assert weff[name].dtype == t.dtype and weff[name].shape == t.shape, name
        assert torch.allclose(weff[name], t, rtol=1e-6, atol=1e-7), name
    bf16 = small_net(torch.bfloat16)
    weff16 = sparsexbar.torch.crossbar_state_dict(bf16, CrossbarConfig("ideal"), tile=16)
    for name, t in bf16.state_dict().items():
        assert weff16[name].dtype == t.dtype and torch.equal(weff16[name], t), name


def test_parasitics_change_the_outputs_and_the_groups_come_from_the_module():
    net = small_net()
    assert sparsexbar.torch.conv_groups(net) == {"3.weight": 4}
    weff, report = sparsexbar.torch.crossbar_state_dict(net, CrossbarConfig("wire-28"), tile=16, with_report=True)
    assert [layer["groups"] for layer in report["layers"]] == [1, 4, 1]
    x = torch.randn(4, 3, 8, 8)
    software = net(x)
    net.load_state_dict(weff)
    crossbar = net(x)
    assert not torch.equal(software, crossbar)
    assert torch.allclose(software, crossbar, rtol=0.5, atol=0.5)


def test_torch_tensors_in_effective_weights_and_solve_tiles():
    g = torch.rand(2, 4, 5, dtype=torch.float64) * 4e-5 + 5e-6
    assert np.array_equal(sparsexbar.solve_tiles(g), sparsexbar.solve_tiles(g.numpy()))
    sd = {"fc.weight": torch.rand(6, 7)}
    got, _ = sparsexbar.effective_weights(sd, tile=8)
    assert got["fc.weight"].dtype == np.float32 and got["fc.weight"].shape == (6, 7)
