// The one "skip without a usable GPU" helper: reports the test as SKIPPED
// (never passed) with the probe's reason. Use at the top of a test body.
#pragma once

#include <gtest/gtest.h>

#include "kernels/common/device_choice.h"

#define SXB_SKIP_UNLESS_USABLE(capability)                                              \
  do {                                                                                  \
    const ::sxb::CudaCapability sxb_capability_ = (capability);                        \
    if (!sxb_capability_.usable) GTEST_SKIP() << "no usable CUDA GPU: " << sxb_capability_.reason; \
  } while (0)
