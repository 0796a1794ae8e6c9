// The Backend's default eval-path block: the layer operations one after
// another (a backend without a fused kernel, such as CUDA, runs this); the
// default tile product (none).
#include "models/nn_backend.h"

namespace sxb::nn {

void Backend::conv2d_block_eval(const Conv2dShape& s, const Tensor& x, const Tensor& weight, const ConvBlock& block,
                                const Tensor& y) {
  const int N = s.batch, K = s.out_channels, Ho = s.out_height(), Wo = s.out_width();
  const Tensor out = block.pool ? empty({N, K, Ho, Wo}) : y;
  conv2d_forward(s, x, weight, block.bias, out);
  if (block.gamma)
    batch_norm_forward_eval(BatchNormShape{N, K, Ho * Wo}, out, *block.gamma, *block.beta, *block.running_mean,
                            *block.running_var, block.eps, out);
  if (block.relu) relu_forward(out, out);
  if (block.pool) {
    const Tensor argmax = empty(y.shape(), DType::I32);
    max_pool2x2_forward(PoolShape{N, K, Ho, Wo}, out, y, argmax);
  }
}

TileProductCounts Backend::tile_product(const TileProductHandle&, const TileConverters&, const Conv2dShape*, int,
                                        const Tensor&, const Tensor*, const Tensor&) {
  throw Error("the " + name() + " backend has no tile-level product of its own (prepare_tile_product gave none)");
}

}  // namespace sxb::nn
