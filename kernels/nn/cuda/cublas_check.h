// cuBLAS status checking: SXB_CUBLAS_CHECK throws sxb::Error naming the
// failing call, the status and where (the cuBLAS twin of SXB_CUDA_CHECK).
#pragma once

#include <cublas_v2.h>

#include <string>

#include "kernels/common/error.h"

#define SXB_CUBLAS_CHECK(call)                                                                         \
  do {                                                                                                 \
    const cublasStatus_t sxb_cublas_status_ = (call);                                                  \
    if (sxb_cublas_status_ != CUBLAS_STATUS_SUCCESS) {                                                 \
      throw ::sxb::Error(std::string("cuBLAS error in " #call ": ") +                                  \
                             cublasGetStatusString(sxb_cublas_status_) + " (" +                        \
                             cublasGetStatusName(sxb_cublas_status_) + ") at " __FILE__ ":" +          \
                             std::to_string(__LINE__),                                                 \
                         __FILE__, __LINE__);                                                          \
    }                                                                                                  \
  } while (0)
