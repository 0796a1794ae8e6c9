// Values no usable network has, checked when weights are loaded
// (nn::Vgg::load_state_dict), so that a damaged or diverged model is an
// error naming the file and the tensor instead of a normal-looking accuracy.
#pragma once

#include <string>

#include "models/io/safetensors.h"

namespace sxb {

// Every value finite: an Error "<source>: tensor '<name>' holds nan at flat
// index i (of n)" for the first one that is not.
void check_finite_values(const HostTensor& t, const std::string& name, const std::string& source);

// A batch-norm running variance: finite and >= 0 (0 is kept: a channel whose
// filter was pruned to zero has no variance, and eps keeps its division
// defined). The first negative entry is an Error naming the channel.
void check_running_variance(const HostTensor& t, const std::string& name, const std::string& source);

}  // namespace sxb
