// Layout files, `<model>.layout.json` beside a pruned model: the
// NetworkLayout as to_json writes it (method, tile_rows, tile_cols, layers
// with their tiles' index maps), plus optional keys that readers of the
// layout ignore ("accounting", "pruning": the pruning settings and a summary
// of the masks). Reading validates the layout (sizes, index ranges,
// duplicates: LayerLayout::check) and, against a model, its layer shapes and
// the pruned weights; every error names the file.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "engine/crossbar/layer_layout.h"
#include "models/vgg.h"

namespace sxb {

// "<path minus .safetensors>.layout.json".
std::string layout_path(const std::string& model_path);

// to_json(layout) merged with the keys of `extra` (an object), written atomically.
void write_layout_file(const std::string& path, const NetworkLayout& layout, const nlohmann::json& extra = {});

// SHA-256 over every conv/linear layer of `model` (name, shape and which
// weights are non-zero): the identity of a pruned model's weights that its
// layout file records ("weights_mask_hash"). Fine-tuning that holds the
// layout's masks keeps it.
std::string weights_mask_hash(nn::Vgg& model);

// Adds "weights_mask_hash" of `model` to the layout file at `path` (rewritten atomically).
void record_weights_identity(const std::string& path, nn::Vgg& model);

// Parses and checks a layout file.
NetworkLayout read_layout_file(const std::string& path);

// The layout must name every conv/linear layer of `model` once and nothing
// else, with the model's K x N (engine/crossbar/mapping.h); every weight that no tile
// holds must be exactly 0 in the model (else the layout belongs to other
// weights), and when the layout records weights_mask_hash the model's must
// equal it. Errors name `context` (the file). With `zeros_too` false only the
// layers and their shapes are checked (training applies the layout's masks).
void check_layout_for_model(const NetworkLayout& layout, nn::Vgg& model, const std::string& context,
                            bool zeros_too = true);

}  // namespace sxb
