// A network whose mapped layers compute with effective weights: the layer
// matrices of a model (the input of the crossbar mapping), the dense tile
// layout, and forwards with every layer's weight replaced by its W_eff
// through the model's weight hooks (dense, or CSR for very sparse W_eff,
// engine/evaluation/sparse_forward.h).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/crossbar/layer_layout.h"
#include "engine/crossbar/scheduler.h"
#include "engine/data/dataset.h"
#include "engine/evaluation/evaluate.h"
#include "engine/evaluation/sparse_forward.h"
#include "models/vgg.h"

namespace sxb {

// The conv and linear layers of `model` as layer matrices (scale unset).
std::vector<MappedLayer> mapped_layers(nn::Vgg& model);

// ceil(K/R) x ceil(N/C) tiles for every mapped layer.
NetworkLayout dense_network_layout(const std::vector<MappedLayer>& layers, int tile_rows, int tile_cols);

// Runs `run` with every layer of `layers` computing with its w_eff (weight
// hooks cleared on return, also on an exception). A layer runs as a CSR
// product when `path` says so; its name is then appended to `sparse_layers`
// when given.
void with_effective_weights(nn::Vgg& model, const std::vector<LayerEffective>& layers, SparsePath path,
                            std::vector<std::string>* sparse_layers, const std::function<void()>& run);

// evaluate() with every layer's weight replaced by its w_eff.
EvalResult evaluate_with_weights(nn::Vgg& model, const Dataset& data, const Normalization& norm,
                                 const std::vector<LayerEffective>& layers, SparsePath path = SparsePath::Auto,
                                 std::vector<std::string>* sparse_layers = nullptr);

}  // namespace sxb
