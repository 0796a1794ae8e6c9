// "Load a model file and evaluate it on crossbars", the one way every command
// does it (evaluate, demo, sweeps): read the weights file, complete the model
// configuration from its metadata, read its WCT scales and, for a pruned
// model, its packed layout, count the unpruned crossbars for CCR, and run the
// crossbar evaluation (engine/evaluation/crossbar_eval.h).
#pragma once

#include <optional>
#include <string>

#include "engine/evaluation/crossbar_eval.h"
#include "models/io/safetensors.h"
#include "models/vgg.h"

namespace sxb {

struct ModelEvalRequest {
  std::string weights;  // safetensors written by train/prune, or a PyTorch export
  // The contents of `weights` when the caller read it already (it must
  // outlive the call); null: read here. The file is read once either way.
  const SafetensorsFile* file = nullptr;
  // The model: `config` when the caller completed it already (e.g. with an
  // input normalisation for a file without one), else `model` completed from
  // the file's metadata.
  nn::VggRequest model;
  std::optional<nn::VggConfig> config;
  // Packed tile layout of a pruned model; empty: dense tiles. Read here
  // unless options.layout holds it already (then this names it in errors).
  std::string layout;
  std::string unpruned;  // weights of the unpruned model, for CCR ("" and reference 0: no CCR)
  // Crossbar, solver, cache, rearrangement, log. layout, wct, model_source and
  // reference_crossbars (when `unpruned` is given) are filled in here.
  CrossbarEvalOptions options;
};

// The software evaluation of the last (weights, test data) evaluated:
// consecutive evaluations of one model on several crossbars share it.
struct SoftwareMemo {
  std::string key;
  EvalResult result;
};

// `test` is the test split of `options.data_source`. Errors name the file.
CrossbarEvalResult evaluate_model_file(const ModelEvalRequest& request, nn::Backend& backend, const Dataset& test,
                                       SoftwareMemo* memo = nullptr);

// Crossbars (both arrays) of a dense model at R x C tiles, from the weight
// shapes of its file: the reference of CCR. Errors name the file.
long long dense_crossbars(const std::string& weights_path, int tile_rows, int tile_cols);
long long dense_crossbars(const SafetensorsFile& weights, const std::string& path, int tile_rows, int tile_cols);

}  // namespace sxb
