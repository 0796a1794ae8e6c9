// Sparse weight times dense activations with cuSPARSE's generic SpMM (CSR,
// 32-bit indices, FP32), enqueued on the queue's stream.
#include "kernels/nn/cuda/cusparse_check.h"
#include "kernels/nn/cuda/layers_cuda.h"

namespace sxb::nn::gpu {

namespace {

// Descriptors of one call, destroyed on scope exit (also when a check throws).
struct SpmmDescriptors {
  cusparseSpMatDescr_t a = nullptr;
  cusparseDnMatDescr_t b = nullptr, c = nullptr;
  ~SpmmDescriptors() {
    if (c) cusparseDestroyDnMat(c);
    if (b) cusparseDestroyDnMat(b);
    if (a) cusparseDestroySpMat(a);
  }
};

}  // namespace

void spmm_csr(const Queue& q, const CsrView& a, int n, const float* b, int ldb, float* c, int ldc, bool row_major,
              const ScratchFn& scratch) {
  if (a.rows == 0 || n == 0) return;
  SpmmDescriptors d;
  SXB_CUSPARSE_CHECK(cusparseCreateCsr(&d.a, a.rows, a.cols, static_cast<std::int64_t>(a.nnz), const_cast<std::int32_t*>(a.row_ptr),
                                       const_cast<std::int32_t*>(a.col_idx), const_cast<float*>(a.values),
                                       CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F));
  const cusparseOrder_t order = row_major ? CUSPARSE_ORDER_ROW : CUSPARSE_ORDER_COL;
  SXB_CUSPARSE_CHECK(cusparseCreateDnMat(&d.b, a.cols, n, ldb, const_cast<float*>(b), CUDA_R_32F, order));
  SXB_CUSPARSE_CHECK(cusparseCreateDnMat(&d.c, a.rows, n, ldc, c, CUDA_R_32F, order));
  const float one = 1.0f, zero = 0.0f;
  std::size_t bytes = 0;
  SXB_CUSPARSE_CHECK(cusparseSpMM_bufferSize(q.sparse, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                             CUSPARSE_OPERATION_NON_TRANSPOSE, &one, d.a, d.b, &zero, d.c,
                                             CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, &bytes));
  void* buffer = scratch(bytes);
  SXB_CUSPARSE_CHECK(cusparseSpMM(q.sparse, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE, &one,
                                  d.a, d.b, &zero, d.c, CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, buffer));
}

}  // namespace sxb::nn::gpu
