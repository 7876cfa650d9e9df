// Sparse voxel structure maps, built on the device from coordinates I32 [N, 4] = (batch, x, y, z):
//
//  * the submanifold 3x3x3 neighbour map: an open-addressing hash table (linear probing, load factor <= 1/2) keyed by
//    the packed voxel key b << 45 | x << 30 | y << 15 | z, filled by one thread per voxel (atomicCAS on the key slot,
//    atomicMax on the row so that repeated coordinates keep their last row, as the host HashMap.put does), then
//    read by one thread per (voxel, offset) with k = kx*9 + ky*3 + kz;
//  * the pooling maps of a downsample: coarse keys of every voxel, radix-sorted (CUB) with their rows, unique runs
//    flagged and ranked by an inclusive scan; the rank of a run is its coarse row, so coarse rows come out sorted by
//    (batch, x, y, z), exactly the host's distinct().sorted() order.
//
// Mirrors org.voxflow.tensor.cpu.SparseMaps (the reference). Coordinates are trusted to lie in [0, 2^15) with batch
// in [0, 2^18) (SparseStructure checks host input; downsampled coordinates stay in range); neighbour coordinates
// that leave [0, 2^15) are absent (-1).
#include "vf_common.cuh"
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

namespace {

constexpr int THREADS = 256;
constexpr unsigned long long EMPTY = ~0ull;  // never a key: keys use at most 63 bits
constexpr int COORD_BITS = 15;
constexpr int COORD_LIMIT = 1 << COORD_BITS;
constexpr size_t ALIGN = 256;

__host__ __device__ __forceinline__ unsigned long long pack(int b, int x, int y, int z) {
    return ((unsigned long long)(unsigned)b << 45) | ((unsigned long long)(unsigned)x << 30) |
           ((unsigned long long)(unsigned)y << 15) | (unsigned long long)(unsigned)z;
}

// murmur3's 64-bit finalizer: spreads the packed fields over every bit before masking.
__device__ __forceinline__ unsigned long long mix(unsigned long long k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

static inline size_t align_up(size_t v) { return (v + ALIGN - 1) / ALIGN * ALIGN; }

// Table capacity: a power of two >= 2n (and >= 64), so probes stay short and always meet an empty slot.
static inline long long table_capacity(long long n) {
    long long cap = 64;
    while (cap < 2 * n) cap <<= 1;
    return cap;
}

__global__ void table_insert(const int* __restrict__ coords, long long n, unsigned long long* keys, int* vals,
                             unsigned long long mask) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        const int* c = coords + 4 * i;
        unsigned long long key = pack(c[0], c[1], c[2], c[3]);
        unsigned long long h = mix(key) & mask;
        while (true) {
            unsigned long long prev = atomicCAS(keys + h, EMPTY, key);
            if (prev == EMPTY || prev == key) {
                atomicMax(vals + h, (int)i);
                break;
            }
            h = (h + 1) & mask;
        }
    }
}

__global__ void table_lookup(const int* __restrict__ coords, long long n, const unsigned long long* __restrict__ keys,
                             const int* __restrict__ vals, unsigned long long mask, int* __restrict__ nbr) {
    long long total = n * 27;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
        long long i = e / 27;
        int k = (int)(e - i * 27);
        const int* c = coords + 4 * i;
        int x = c[1] + k / 9 - 1, y = c[2] + (k / 3) % 3 - 1, z = c[3] + k % 3 - 1;
        int found = -1;
        if (x >= 0 && y >= 0 && z >= 0 && x < COORD_LIMIT && y < COORD_LIMIT && z < COORD_LIMIT) {
            unsigned long long key = pack(c[0], x, y, z);
            unsigned long long h = mix(key) & mask;
            while (true) {
                unsigned long long s = keys[h];
                if (s == key) { found = vals[h]; break; }
                if (s == EMPTY) break;
                h = (h + 1) & mask;
            }
        }
        nbr[e] = found;
    }
}

__global__ void coarse_keys(const int* __restrict__ coords, long long n, int factor, unsigned long long* keys, int* rows) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        const int* c = coords + 4 * i;
        keys[i] = pack(c[0], c[1] / factor, c[2] / factor, c[3] / factor);
        rows[i] = (int)i;
    }
}

__global__ void run_heads(const unsigned long long* __restrict__ sorted, long long n, int* head) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        head[i] = (i == 0 || sorted[i] != sorted[i - 1]) ? 1 : 0;
}

// rank[i] = 1 + the coarse row of sorted position i (inclusive scan of the heads).
__global__ void emit_maps(const unsigned long long* __restrict__ sorted, const int* __restrict__ rows,
                          const int* __restrict__ head, const int* __restrict__ rank, long long n, int batch,
                          int* __restrict__ coarse, int* counts, int* __restrict__ toCoarse, int* batchRows) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        int r = rank[i] - 1;
        toCoarse[rows[i]] = r;
        atomicAdd(counts + r, 1);
        if (head[i]) {
            unsigned long long k = sorted[i];
            int b = (int)(k >> 45);
            coarse[4 * (long long)r] = b;
            coarse[4 * (long long)r + 1] = (int)((k >> 30) & 0x7fff);
            coarse[4 * (long long)r + 2] = (int)((k >> 15) & 0x7fff);
            coarse[4 * (long long)r + 3] = (int)(k & 0x7fff);
            atomicAdd(batchRows + (b < batch ? b : batch), 1);  // slot `batch` counts batch indices out of range
        }
    }
}

// Scratch layout of a downsample of n voxels: keys in/out (u64), rows in/out (i32), rank (i32), CUB temp.
struct DownLayout {
    size_t keysIn, keysOut, rowsIn, rowsOut, rank, temp, tempBytes, total;
};

static cudaError_t down_layout(long long n, int endBit, DownLayout& L) {
    size_t sortBytes = 0, scanBytes = 0;
    int items = (int)n;
    cudaError_t e = cub::DeviceRadixSort::SortPairs(nullptr, sortBytes, (const unsigned long long*)nullptr,
                                                    (unsigned long long*)nullptr, (const int*)nullptr, (int*)nullptr,
                                                    items, 0, endBit);
    if (e != cudaSuccess) return e;
    e = cub::DeviceScan::InclusiveSum(nullptr, scanBytes, (const int*)nullptr, (int*)nullptr, items);
    if (e != cudaSuccess) return e;
    size_t at = 0;
    L.keysIn = at;  at += align_up(8 * (size_t)n);
    L.keysOut = at; at += align_up(8 * (size_t)n);
    L.rowsIn = at;  at += align_up(4 * (size_t)n);
    L.rowsOut = at; at += align_up(4 * (size_t)n);
    L.rank = at;    at += align_up(4 * (size_t)n);
    L.temp = at;
    L.tempBytes = align_up(sortBytes > scanBytes ? sortBytes : scanBytes);
    at += L.tempBytes;
    L.total = at;
    return cudaSuccess;
}

// The key bits a sort must look at: 45 for x, y, z and what batch indices 0..batch-1 need.
static int key_bits(int batch) {
    int b = 0;
    while (b < 19 && ((long long)(batch - 1) >> b) != 0) b++;
    return 45 + b;
}

}  // namespace

extern "C" {

int vf_sparse_neighbours_scratch(long long n, long long* bytes) {
    if (n < 0) return (int)cudaErrorInvalidValue;
    long long cap = table_capacity(n);
    *bytes = (long long)(align_up(8 * (size_t)cap) + align_up(4 * (size_t)cap));
    return 0;
}

int vf_sparse_neighbours(long long coords, long long n, long long scratch, long long scratchBytes, long long nbr,
                         long long stream) {
    if (n < 0 || n > 0x7fffffffLL) return (int)cudaErrorInvalidValue;
    if (n == 0) return 0;
    long long cap = table_capacity(n);
    size_t keyBytes = align_up(8 * (size_t)cap), need = keyBytes + align_up(4 * (size_t)cap);
    if ((size_t)scratchBytes < need) return (int)cudaErrorInvalidValue;
    cudaStream_t st = VF_STREAM(stream);
    unsigned long long* keys = VF_PTR(unsigned long long, scratch);
    int* vals = VF_PTR(int, scratch + (long long)keyBytes);
    // all-ones bytes: keys EMPTY, rows -1
    cudaError_t e = cudaMemsetAsync(keys, 0xff, need, st);
    if (e != cudaSuccess) return (int)e;
    table_insert<<<vf_blocks(n, THREADS), THREADS, 0, st>>>(VF_PTR(const int, coords), n, keys, vals,
                                                            (unsigned long long)(cap - 1));
    int rc = vf_launch_status();
    if (rc != 0) return rc;
    table_lookup<<<vf_blocks(n * 27, THREADS), THREADS, 0, st>>>(VF_PTR(const int, coords), n, keys, vals,
                                                                 (unsigned long long)(cap - 1), VF_PTR(int, nbr));
    return vf_launch_status();
}

int vf_sparse_downsample_scratch(long long n, int batch, long long* bytes) {
    if (n < 0 || n > 0x7fffffffLL || batch < 1) return (int)cudaErrorInvalidValue;
    DownLayout L;
    cudaError_t e = down_layout(n, key_bits(batch), L);
    *bytes = (long long)L.total;
    return (int)e;
}

int vf_sparse_downsample(long long coords, long long n, int batch, int factor, long long scratch,
                         long long scratchBytes, long long coarse, long long counts, long long toCoarse,
                         long long batchRows, long long stream) {
    if (n < 0 || n > 0x7fffffffLL || batch < 1 || factor < 1) return (int)cudaErrorInvalidValue;
    cudaStream_t st = VF_STREAM(stream);
    cudaError_t e = cudaMemsetAsync(VF_PTR(int, batchRows), 0, 4 * ((size_t)batch + 1), st);
    if (e != cudaSuccess || n == 0) return (int)e;
    DownLayout L;
    int endBit = key_bits(batch);
    e = down_layout(n, endBit, L);
    if (e != cudaSuccess) return (int)e;
    if ((size_t)scratchBytes < L.total) return (int)cudaErrorInvalidValue;
    char* base = VF_PTR(char, scratch);
    unsigned long long* keysIn = (unsigned long long*)(base + L.keysIn);
    unsigned long long* keysOut = (unsigned long long*)(base + L.keysOut);
    int* rowsIn = (int*)(base + L.rowsIn);
    int* rowsOut = (int*)(base + L.rowsOut);
    int* rank = (int*)(base + L.rank);
    void* temp = base + L.temp;
    int items = (int)n;
    unsigned g = vf_blocks(n, THREADS);

    e = cudaMemsetAsync(VF_PTR(int, counts), 0, 4 * (size_t)n, st);
    if (e != cudaSuccess) return (int)e;
    coarse_keys<<<g, THREADS, 0, st>>>(VF_PTR(const int, coords), n, factor, keysIn, rowsIn);
    int rc = vf_launch_status();
    if (rc != 0) return rc;
    // stable LSD radix sort over only the bits keys use
    size_t tempBytes = L.tempBytes;
    e = cub::DeviceRadixSort::SortPairs(temp, tempBytes, keysIn, keysOut, rowsIn, rowsOut, items, 0, endBit, st);
    if (e != cudaSuccess) return (int)e;
    int* head = rowsIn;  // free again after the sort
    run_heads<<<g, THREADS, 0, st>>>(keysOut, n, head);
    rc = vf_launch_status();
    if (rc != 0) return rc;
    tempBytes = L.tempBytes;
    e = cub::DeviceScan::InclusiveSum(temp, tempBytes, head, rank, items, st);
    if (e != cudaSuccess) return (int)e;
    emit_maps<<<g, THREADS, 0, st>>>(keysOut, rowsOut, head, rank, n, batch, VF_PTR(int, coarse), VF_PTR(int, counts),
                                     VF_PTR(int, toCoarse), VF_PTR(int, batchRows));
    return vf_launch_status();
}

}  // extern "C"
