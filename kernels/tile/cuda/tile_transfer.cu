// CUDA tile solver: one thread block per tile, one launch per chunk of tiles
// (mixed sizes allowed). A tile's scratch (tile_job.h) lives in shared memory
// when it fits in one block's share, otherwise in global memory.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "kernels/common/cuda_check.h"
#include "kernels/common/device_buffer.h"
#include "kernels/common/launch.cuh"
#include "kernels/tile/cuda/tile_job.h"
#include "kernels/tile/cuda/tile_kernel.h"
#include "kernels/tile/cuda/tile_sweep.cuh"
#include "kernels/tile/cuda/cuda_backend.h"
#include "kernels/common/error.h"

namespace sxb::cuda {

namespace {

struct CudaBlock {
  __device__ int thread() const { return static_cast<int>(threadIdx.x); }
  __device__ int threads() const { return static_cast<int>(blockDim.x); }
  __device__ int lane() const { return static_cast<int>(threadIdx.x) % kWarpSize; }
  __device__ int warp() const { return static_cast<int>(threadIdx.x) / kWarpSize; }
  __device__ int warps() const { return static_cast<int>(blockDim.x) / kWarpSize; }
  __device__ void sync() const { __syncthreads(); }
  __device__ void sync_warp() const { __syncwarp(); }
};

// Block b solves jobs[b]; launched with kThreadsPerTile threads per block.
__global__ void __launch_bounds__(kThreadsPerTile, 2)
    tile_transfer_kernel(const TileJob* __restrict__ jobs, const double* __restrict__ conductance,
                         double* __restrict__ transfer, double* __restrict__ scratch, int* __restrict__ status) {
  extern __shared__ double shared_scratch[];
  const TileJob job = jobs[blockIdx.x];
  const CudaBlock blk;
  const double* g = conductance + job.cell_offset;
  double* Q = transfer + job.cell_offset;
  int* tile_status = status + blockIdx.x;
  // Two inlined copies, so that the shared one compiles to shared-memory loads.
  if (job.scratch_offset < 0)
    sweep_tile(blk, job, g, Q, shared_scratch, tile_status);
  else
    sweep_tile(blk, job, g, Q, scratch + job.scratch_offset, tile_status);
}

constexpr std::size_t kAlignment = 256;
std::size_t aligned(std::size_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

std::size_t scratch_bytes(int rows) { return scratch_doubles(rows) * sizeof(double); }
bool scratch_in_shared(int rows, std::size_t shared_limit) { return scratch_bytes(rows) <= shared_limit; }

// Consecutive tiles solved by one launch, and the device memory they need.
struct Chunk {
  std::size_t first = 0, count = 0;
  std::size_t cells = 0;            // conductances (= transfer values)
  std::size_t global_scratch = 0;   // doubles, tiles that do not fit in shared memory
  std::size_t shared_bytes = 0;     // per block, the largest tile that does

  void add(int rows, int cols, std::size_t shared_limit) {
    ++count;
    cells += static_cast<std::size_t>(rows) * cols;
    if (scratch_in_shared(rows, shared_limit))
      shared_bytes = std::max(shared_bytes, scratch_bytes(rows));
    else
      global_scratch += scratch_doubles(rows);
  }
  std::size_t device_bytes() const {
    return 2 * aligned(cells * sizeof(double)) + aligned(global_scratch * sizeof(double)) +
           aligned(count * sizeof(TileJob)) + aligned(count * sizeof(int));
  }
};

// Splits the batch into chunks of at most `max_tiles` tiles (0: no limit)
// whose device memory stays within `budget` bytes.
std::vector<Chunk> plan_chunks(const TileBatch& batch, std::size_t budget, std::size_t shared_limit,
                               std::size_t max_tiles) {
  std::vector<Chunk> chunks;
  Chunk chunk;
  for (std::size_t k = 0; k < batch.size(); ++k) {
    Chunk grown = chunk;
    grown.add(batch.rows[k], batch.cols[k], shared_limit);
    const bool full = max_tiles > 0 && chunk.count == max_tiles;
    if (chunk.count > 0 && (full || grown.device_bytes() > budget)) {
      chunks.push_back(chunk);
      chunk = Chunk{k};
      grown = chunk;
      grown.add(batch.rows[k], batch.cols[k], shared_limit);
    }
    SXB_REQUIRE(grown.device_bytes() <= budget,
                "CUDA tile solver: tile " + std::to_string(k) + " (" + std::to_string(batch.rows[k]) + " x " +
                    std::to_string(batch.cols[k]) + ") needs " + std::to_string(grown.device_bytes()) +
                    " bytes of GPU memory, but only " + std::to_string(budget) + " are available");
    chunk = grown;
  }
  if (chunk.count > 0) chunks.push_back(chunk);
  return chunks;
}

// Device arrays of one chunk, carved out of one allocation.
struct ChunkArrays {
  double* conductance;
  double* transfer;
  double* scratch;
  TileJob* jobs;
  int* status;

  ChunkArrays(std::byte* base, const Chunk& c) {
    conductance = reinterpret_cast<double*>(base);
    base += aligned(c.cells * sizeof(double));
    transfer = reinterpret_cast<double*>(base);
    base += aligned(c.cells * sizeof(double));
    scratch = reinterpret_cast<double*>(base);
    base += aligned(c.global_scratch * sizeof(double));
    jobs = reinterpret_cast<TileJob*>(base);
    base += aligned(c.count * sizeof(TileJob));
    status = reinterpret_cast<int*>(base);
  }
};

std::vector<TileJob> chunk_jobs(const TileBatch& batch, const Chunk& c, std::size_t shared_limit) {
  std::vector<TileJob> jobs(c.count);
  std::int64_t scratch_offset = 0;
  for (std::size_t t = 0; t < c.count; ++t) {
    const std::size_t k = c.first + t;
    const TileResistances& res = batch.resistances_of(k);
    TileJob& job = jobs[t];
    job.rows = batch.rows[k];
    job.cols = batch.cols[k];
    job.cell_offset = static_cast<std::int64_t>(batch.offset[k] - batch.offset[c.first]);
    if (scratch_in_shared(job.rows, shared_limit)) {
      job.scratch_offset = -1;
    } else {
      job.scratch_offset = scratch_offset;
      scratch_offset += static_cast<std::int64_t>(scratch_doubles(job.rows));
    }
    job.r_source = res.r_source;
    job.r_sink = res.r_sink;
    job.r_wire_row = res.r_wire_row;
    job.r_wire_col = res.r_wire_col;
  }
  return jobs;
}

}  // namespace

namespace detail {

std::string tile_kernel_problem() {
  try {
    cudaFuncAttributes attributes{};
    const cudaError_t code = cudaFuncGetAttributes(&attributes, tile_transfer_kernel);
    if (code != cudaSuccess) {
      (void)cudaGetLastError();
      return "the tile kernel cannot run on this GPU (" + describe_cuda_error(code, "cudaFuncGetAttributes") + ")";
    }
    if (attributes.maxThreadsPerBlock < kThreadsPerTile)
      return "the tile kernel needs " + std::to_string(kThreadsPerTile) + " threads per block, this GPU allows " +
             std::to_string(attributes.maxThreadsPerBlock);
    return {};
  } catch (...) {
    return "the tile kernel could not be inspected";
  }
}

}  // namespace detail

std::size_t tile_workspace_bytes(int rows, int cols) {
  // Upper bound: the scratch moves to shared memory when it fits there.
  return sizeof(double) * (2 * static_cast<std::size_t>(rows) * cols + scratch_doubles(rows)) + sizeof(TileJob) +
         sizeof(int);
}

std::vector<std::size_t> batch_transfer(const TileBatch& batch, double* transfer, std::size_t max_tiles_per_chunk) {
  const DeviceInfo& info = device_info();
  SXB_REQUIRE(info.available, "CUDA backend requested, but " + info.reason);
  std::vector<std::size_t> failed;
  if (batch.size() == 0) return failed;

  SXB_CUDA_CHECK(cudaSetDevice(kDevice));
  int shared_optin = 0;
  SXB_CUDA_CHECK(cudaDeviceGetAttribute(&shared_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, kDevice));
  const std::size_t shared_limit = static_cast<std::size_t>(shared_optin);
  std::size_t free_bytes = 0, total_bytes = 0;
  SXB_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  const std::size_t budget = free_bytes / 10 * 9;  // ~10% headroom

  const std::vector<Chunk> chunks = plan_chunks(batch, budget, shared_limit, max_tiles_per_chunk);
  std::size_t arena_bytes = 0, max_shared = 0;
  for (const Chunk& c : chunks) {
    arena_bytes = std::max(arena_bytes, c.device_bytes());
    max_shared = std::max(max_shared, c.shared_bytes);
  }
  SXB_CUDA_CHECK(cudaFuncSetAttribute(tile_transfer_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(max_shared)));
  SXB_CUDA_CHECK(cudaFuncSetAttribute(tile_transfer_kernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                                      cudaSharedmemCarveoutMaxShared));

  Stream stream;
  DeviceBuffer<std::byte> arena(arena_bytes);
  std::vector<int> status;
  for (const Chunk& c : chunks) {
    const ChunkArrays d(arena.data(), c);
    const std::vector<TileJob> jobs = chunk_jobs(batch, c, shared_limit);
    const std::size_t base = batch.offset[c.first];
    SXB_CUDA_CHECK(cudaMemcpyAsync(d.conductance, batch.conductance.data() + base, c.cells * sizeof(double),
                                   cudaMemcpyHostToDevice, stream.get()));
    SXB_CUDA_CHECK(cudaMemcpyAsync(d.jobs, jobs.data(), c.count * sizeof(TileJob), cudaMemcpyHostToDevice,
                                   stream.get()));
    SXB_CUDA_CHECK(cudaMemsetAsync(d.status, 0, c.count * sizeof(int), stream.get()));
    launch(tile_transfer_kernel, c.count, kThreadsPerTile, c.shared_bytes, stream.get(), d.jobs, d.conductance,
           d.transfer, d.scratch, d.status);
    SXB_CUDA_CHECK(cudaMemcpyAsync(transfer + base, d.transfer, c.cells * sizeof(double), cudaMemcpyDeviceToHost,
                                   stream.get()));
    status.resize(c.count);
    SXB_CUDA_CHECK(cudaMemcpyAsync(status.data(), d.status, c.count * sizeof(int), cudaMemcpyDeviceToHost,
                                   stream.get()));
    stream.synchronize();
    for (std::size_t t = 0; t < c.count; ++t)
      if (status[t] != 0) failed.push_back(c.first + t);  // shifted admittance not positive definite
  }
  return failed;
}

}  // namespace sxb::cuda
