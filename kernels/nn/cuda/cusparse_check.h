// cuSPARSE status checking: SXB_CUSPARSE_CHECK throws sxb::Error naming the
// failing call, the status and where (the cuSPARSE twin of SXB_CUBLAS_CHECK).
#pragma once

#include <cusparse.h>

#include <string>

#include "kernels/common/error.h"

#define SXB_CUSPARSE_CHECK(call)                                                                       \
  do {                                                                                                 \
    const cusparseStatus_t sxb_cusparse_status_ = (call);                                              \
    if (sxb_cusparse_status_ != CUSPARSE_STATUS_SUCCESS) {                                             \
      throw ::sxb::Error(std::string("cuSPARSE error in " #call ": ") +                                \
                             cusparseGetErrorString(sxb_cusparse_status_) + " at " __FILE__ ":" +      \
                             std::to_string(__LINE__),                                                 \
                         __FILE__, __LINE__);                                                          \
    }                                                                                                  \
  } while (0)
