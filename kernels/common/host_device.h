// SXB_HOST_DEVICE: a function compiled for the host and, under nvcc, for the
// device too, so that CPU and CUDA kernels share one formula.
#pragma once

#if defined(__CUDACC__)
#define SXB_HOST_DEVICE __host__ __device__
#else
#define SXB_HOST_DEVICE
#endif
