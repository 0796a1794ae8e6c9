// The command line's names of configuration keys: the one table from a key
// ("train.lr") to the flag that sets it (--lr), and an Error rendered with
// those names. The message is data (kernels/common/error.h): its keys are
// looked up here, never found by reading its text.
#pragma once

#include <string>

#include "kernels/common/error.h"

namespace sxb::app {

// The flag that sets `key`, or `key` itself when no flag does (a crossbar
// key of --set, a key of a sweep file).
std::string flag_of_key(const std::string& key);

// `e`'s message with every key written as its flag.
std::string cli_message(const Error& e);

}  // namespace sxb::app
