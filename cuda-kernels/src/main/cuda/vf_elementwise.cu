// Elementwise kernels over strided layouts. The scalar math mirrors org.voxflow.tensor.cpu.Elementwise (the
// reference): same formulas and the same special cases (pow exponents, NaN-propagating max/min, stable sigmoid).
// Dense operands take a fast path without index arithmetic.
#include "vf_common.cuh"
#include <type_traits>

namespace {

constexpr int THREADS = 256;
constexpr float SQRT_2_OVER_PI = 0.7978845608028654f;
constexpr float GELU_C = 0.044715f;

__device__ __forceinline__ float sigmoidf(float x) {
    if (x >= 0.f) return 1.f / (1.f + expf(-x));
    float e = expf(x);
    return e / (1.f + e);
}

__device__ __forceinline__ float powf_ref(float a, float p) {
    if (p == 2.f) return a * a;
    if (p == 1.f) return a;
    if (p == 0.5f) return a == -INFINITY ? INFINITY : sqrtf(a) + 0.f;  // pow(-0, 0.5) = +0, pow(-inf, 0.5) = +inf
    return powf(a, p);
}

// UnaryOp ordinals (org.voxflow.tensor.UnaryOp), plus affine/pow.
__device__ __forceinline__ float unary_op(int op, float x, float p0, float p1) {
    switch (op) {
        case 0: return -x;
        case 1: return fabsf(x);
        case 2: return expf(x);
        case 3: return logf(x);
        case 4: return sqrtf(x);
        case 5: return 1.f / sqrtf(x);
        case 6: return x * x;
        case 7: return 1.f / x;
        case 8: return sinf(x);
        case 9: return cosf(x);
        case 10: return tanhf(x);
        case 11: return sigmoidf(x);
        case 12: return x * sigmoidf(x);
        case 13: {
            float inner = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
            return 0.5f * x * (1.f + tanhf(inner));
        }
        case 14: {
            float s = sigmoidf(x);
            return s * (1.f + x * (1.f - s));
        }
        case 15: {
            float inner = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
            float t = tanhf(inner);
            float dInner = SQRT_2_OVER_PI * (1.f + 3.f * GELU_C * x * x);
            return 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * dInner;
        }
        case 16: return x > 0.f ? 1.f : 0.f;
        case VF_OP_AFFINE: return p0 * x + p1;
        case VF_OP_POW: return powf_ref(x, p0);
        default: return __int_as_float(0x7fc00000);
    }
}

// BinaryOp ordinals (org.voxflow.tensor.BinaryOp).
__device__ __forceinline__ float binary_op(int op, float a, float b) {
    switch (op) {
        case 0: return a + b;
        case 1: return a - b;
        case 2: return a * b;
        case 3: return a / b;
        case 4: return (isnan(a) || isnan(b)) ? __int_as_float(0x7fc00000) : fmaxf(a, b);
        case 5: return (isnan(a) || isnan(b)) ? __int_as_float(0x7fc00000) : fminf(a, b);
        case 6: return powf_ref(a, b);
        case 7: return a > b ? 1.f : 0.f;
        case 8: return a >= b ? 1.f : 0.f;
        case 9: return a < b ? 1.f : 0.f;
        case 10: return a <= b ? 1.f : 0.f;
        case 11: return a == b ? 1.f : 0.f;
        default: return __int_as_float(0x7fc00000);
    }
}

__global__ void fill_kernel(float* out, long long n, float v) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        out[i] = v;
}

template <bool DENSE, typename I>
__global__ void unary_kernel(int op, float p0, float p1, VfLayout L, I n, const float* x, float* out) {
    for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
        I off[1] = {i};
        if (!DENSE) vf_offsets_i<I, 1>(L, i, off);
        out[i] = unary_op(op, x[off[0]], p0, p1);
    }
}

template <bool DENSE, typename I>
__global__ void binary_kernel(int op, VfLayout L, I n, const float* a, const float* b, float* out) {
    for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
        I off[2] = {i, i};
        if (!DENSE) vf_offsets_i<I, 2>(L, i, off);
        out[i] = binary_op(op, a[off[0]], b[off[1]]);
    }
}

__global__ void where_kernel(VfLayout L, long long n, const float* c, const float* a, const float* b, float* out) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        long long off[3];
        vf_offsets_i<long long, 3>(L, i, off);
        out[i] = c[off[0]] != 0.f ? a[off[1]] : b[off[2]];
    }
}

// a * b + c with the CPU's rounding: __fmul_rn / __fadd_rn keep nvcc from contracting into one fma.
template <typename I>
__global__ void fma_kernel(VfLayout L, I n, const float* a, const float* b, const float* c, float* out) {
    for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
        I off[3];
        vf_offsets_i<I, 3>(L, i, off);
        out[i] = __fadd_rn(__fmul_rn(a[off[0]], b[off[1]]), c[off[2]]);
    }
}

// ---- four elements per offset computation ------------------------------------------------------------------------
// Integer division in the strided offset arithmetic, not memory, bounds these kernels on broadcast layouts (a
// [B, L, C] activation times a [B, 1, C] modulation): when the innermost axis is a multiple of 4 long and every
// operand steps through it contiguously (stride 1) or not at all (stride 0), with its other strides and its address
// multiples of 4 floats, one offset computation serves 4 elements and contiguous operands move as float4.
bool vec4_layout(const VfLayout& L, int nops, const long long* addrs, const int* elemBytes) {
    if (L.rank < 1) return false;
    int last = L.rank - 1;
    if (L.shape[last] % 4 != 0) return false;
    for (int o = 0; o < nops; o++) {
        long long st = L.stride[o][last];
        if (st != 0 && st != 1) return false;
        for (int d = 0; d < last; d++) if (L.stride[o][d] % 4 != 0) return false;
        if (addrs[o] % (4LL * elemBytes[o]) != 0) return false;
    }
    return true;
}

__device__ __forceinline__ float4 load4(const float* p, bool contiguous) {
    if (contiguous) return *reinterpret_cast<const float4*>(p);
    float v = *p;
    return make_float4(v, v, v, v);
}

template <typename I>
__global__ void fma_vec4_kernel(VfLayout L, I n4, const float* a, const float* b, const float* c, float* out, bool ca,
                                bool cb, bool cc) {
    for (I j = blockIdx.x * (I)blockDim.x + threadIdx.x; j < n4; j += (I)gridDim.x * blockDim.x) {
        I off[3];
        vf_offsets_i<I, 3>(L, 4 * j, off);
        float4 x = load4(a + off[0], ca), y = load4(b + off[1], cb), z = load4(c + off[2], cc);
        float4 r = make_float4(__fadd_rn(__fmul_rn(x.x, y.x), z.x), __fadd_rn(__fmul_rn(x.y, y.y), z.y),
                               __fadd_rn(__fmul_rn(x.z, y.z), z.z), __fadd_rn(__fmul_rn(x.w, y.w), z.w));
        reinterpret_cast<float4*>(out)[j] = r;
    }
}

template <typename I>
__global__ void binary_vec4_kernel(int op, VfLayout L, I n4, const float* a, const float* b, float* out, bool ca, bool cb) {
    for (I j = blockIdx.x * (I)blockDim.x + threadIdx.x; j < n4; j += (I)gridDim.x * blockDim.x) {
        I off[2];
        vf_offsets_i<I, 2>(L, 4 * j, off);
        float4 x = load4(a + off[0], ca), y = load4(b + off[1], cb);
        reinterpret_cast<float4*>(out)[j] = make_float4(binary_op(op, x.x, y.x), binary_op(op, x.y, y.y),
                                                        binary_op(op, x.z, y.z), binary_op(op, x.w, y.w));
    }
}

// ---- dtype conversion (the CPU reference's rules: RNE to 16-bit floats, truncation float -> int) -------------
template <typename T> struct IsInt { static constexpr bool value = false; };
template <> struct IsInt<int> { static constexpr bool value = true; };
template <> struct IsInt<long long> { static constexpr bool value = true; };

template <typename T> __device__ __forceinline__ float as_f(T v) { return (float)v; }
template <> __device__ __forceinline__ float as_f<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }
template <> __device__ __forceinline__ float as_f<__half>(__half v) { return __half2float(v); }

// float -> integer as Java's (int)/(long) casts: truncation, saturation at the type's range, NaN -> 0 (the
// hardware conversion gives the type's minimum for NaN in 64 bits).
template <typename D> __device__ __forceinline__ D from_f(float v) {
    if constexpr (IsInt<D>::value) {
        if (isnan(v)) return (D)0;
        if constexpr (sizeof(D) == 8) {
            if (v >= 9.223372036854775807e18f) return (D)9223372036854775807LL;
            if (v <= -9.223372036854775808e18f) return (D)(-9223372036854775807LL - 1);
        } else {
            if (v >= 2147483647.f) return (D)2147483647;
            if (v <= -2147483648.f) return (D)(-2147483647 - 1);
        }
        return (D)v;
    } else {
        return (D)v;
    }
}
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <> __device__ __forceinline__ __half from_f<__half>(float v) { return __float2half_rn(v); }

template <typename D, typename S> __device__ __forceinline__ D convert(S s) {
    if constexpr (IsInt<D>::value && IsInt<S>::value) return (D)s;      // integer widths: wrap like a cast
    else if constexpr (IsInt<S>::value) return from_f<D>((float)s);    // int -> float types via f32 (as the CPU)
    else return from_f<D>(as_f<S>(s));                                 // float types, float -> int truncates
}

template <typename D, typename S, typename I>
__global__ void convert_kernel(VfLayout L, I n, D* dst, const S* src) {
    for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
        I off[2];
        vf_offsets_i<I, 2>(L, i, off);
        dst[off[0]] = convert<D, S>(src[off[1]]);
    }
}

// Dense f32 -> 16-bit float, four elements per thread (one 16-byte load, one 8-byte store): the autocast casts of
// activations before GEMMs and attention, which the generic strided kernel ran at under half the bandwidth.
template <typename D>
__global__ void convert_dense4_kernel(long long n4, uint2* dst, const float4* src) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n4; i += (long long)gridDim.x * blockDim.x) {
        float4 v = src[i];
        D r[4] = {from_f<D>(v.x), from_f<D>(v.y), from_f<D>(v.z), from_f<D>(v.w)};
        dst[i] = *reinterpret_cast<const uint2*>(r);
    }
}

// Strided f32 source and destination (a v slice of packed kv cast to bf16, say), 4 per offset computation.
template <typename D, typename I>
__global__ void convert_vec4_kernel(VfLayout L, I n4, D* dst, const float* src) {
    for (I j = blockIdx.x * (I)blockDim.x + threadIdx.x; j < n4; j += (I)gridDim.x * blockDim.x) {
        I off[2];
        vf_offsets_i<I, 2>(L, 4 * j, off);
        float4 v = *reinterpret_cast<const float4*>(src + off[1]);
        if constexpr (std::is_same<D, float>::value) {
            *reinterpret_cast<float4*>(dst + off[0]) = v;
        } else {
            D r[4] = {from_f<D>(v.x), from_f<D>(v.y), from_f<D>(v.z), from_f<D>(v.w)};
            *reinterpret_cast<uint2*>(dst + off[0]) = *reinterpret_cast<const uint2*>(r);
        }
    }
}

template <typename D, typename S>
int launch_convert(const VfLayout& L, long long n, long long dst, long long src, cudaStream_t st) {
    bool dense = L.rank == 1 && L.stride[0][0] == 1 && L.stride[1][0] == 1;
    if constexpr (std::is_same<S, float>::value && (std::is_same<D, __nv_bfloat16>::value || std::is_same<D, __half>::value)) {
        if (dense && n % 4 == 0 && dst % 8 == 0 && src % 16 == 0) {
            convert_dense4_kernel<D><<<vf_blocks(n / 4, THREADS), THREADS, 0, st>>>(n / 4, VF_PTR(uint2, dst), VF_PTR(const float4, src));
            return vf_launch_status();
        }
    }
    if constexpr (std::is_same<S, float>::value && (std::is_same<D, float>::value || std::is_same<D, __nv_bfloat16>::value
                                                     || std::is_same<D, __half>::value)) {
        long long addrs[2] = {dst, src};
        int bytes[2] = {(int)sizeof(D), 4};
        if (vf_fits32(L, n, 2) && vec4_layout(L, 2, addrs, bytes) && L.stride[0][L.rank - 1] == 1 && L.stride[1][L.rank - 1] == 1) {
            convert_vec4_kernel<D, int><<<vf_blocks(n / 4, THREADS), THREADS, 0, st>>>(L, (int)(n / 4), VF_PTR(D, dst), VF_PTR(const float, src));
            return vf_launch_status();
        }
    }
    if (vf_fits32(L, n, 2))
        convert_kernel<D, S, int><<<vf_blocks(n, THREADS), THREADS, 0, st>>>(L, (int)n, VF_PTR(D, dst), VF_PTR(const S, src));
    else
        convert_kernel<D, S, long long><<<vf_blocks(n, THREADS), THREADS, 0, st>>>(L, n, VF_PTR(D, dst), VF_PTR(const S, src));
    return vf_launch_status();
}

template <typename D>
int dispatch_src(int srcType, const VfLayout& L, long long n, long long dst, long long src, cudaStream_t st) {
    switch (srcType) {
        case VF_F32: return launch_convert<D, float>(L, n, dst, src, st);
        case VF_BF16: return launch_convert<D, __nv_bfloat16>(L, n, dst, src, st);
        case VF_F16: return launch_convert<D, __half>(L, n, dst, src, st);
        case VF_I32: return launch_convert<D, int>(L, n, dst, src, st);
        case VF_I64: return launch_convert<D, long long>(L, n, dst, src, st);
        default: return (int)cudaErrorInvalidValue;
    }
}

bool all_dense(int rank, const long long* s) { return rank == 0 || (rank == 1 && s[0] == 1); }

}  // namespace

extern "C" {

int vf_fill_f32(long long out, long long n, float value, long long stream) {
    if (n == 0) return 0;
    fill_kernel<<<vf_blocks(n, THREADS), THREADS, 0, VF_STREAM(stream)>>>(VF_PTR(float, out), n, value);
    return vf_launch_status();
}

int vf_convert(int rank, const int* shape, long long dst, int dstType, const long long* dstStrides, long long src,
               int srcType, const long long* srcStrides, long long stream) {
    VfLayout L;
    if (!vf_make_layout(L, rank, shape, dstStrides, srcStrides, nullptr)) return (int)cudaErrorInvalidValue;
    long long n = vf_numel(rank, shape);
    if (n == 0) return 0;
    cudaStream_t st = VF_STREAM(stream);
    switch (dstType) {
        case VF_F32: return dispatch_src<float>(srcType, L, n, dst, src, st);
        case VF_BF16: return dispatch_src<__nv_bfloat16>(srcType, L, n, dst, src, st);
        case VF_F16: return dispatch_src<__half>(srcType, L, n, dst, src, st);
        case VF_I32: return dispatch_src<int>(srcType, L, n, dst, src, st);
        case VF_I64: return dispatch_src<long long>(srcType, L, n, dst, src, st);
        default: return (int)cudaErrorInvalidValue;
    }
}

int vf_unary(int op, float p0, float p1, int rank, const int* shape, long long x, const long long* xStrides,
             long long out, long long stream) {
    VfLayout L;
    if (!vf_make_layout(L, rank, shape, xStrides, nullptr, nullptr)) return (int)cudaErrorInvalidValue;
    long long n = vf_numel(rank, shape);
    if (n == 0) return 0;
    unsigned g = vf_blocks(n, THREADS);
    cudaStream_t st = VF_STREAM(stream);
    const float* xp = VF_PTR(const float, x);
    float* o = VF_PTR(float, out);
    if (!vf_fits32(L, n, 1))
        unary_kernel<false, long long><<<g, THREADS, 0, st>>>(op, p0, p1, L, n, xp, o);
    else if (all_dense(rank, xStrides))
        unary_kernel<true, int><<<g, THREADS, 0, st>>>(op, p0, p1, L, (int)n, xp, o);
    else
        unary_kernel<false, int><<<g, THREADS, 0, st>>>(op, p0, p1, L, (int)n, xp, o);
    return vf_launch_status();
}

int vf_binary(int op, int rank, const int* shape, long long a, const long long* aStrides, long long b,
              const long long* bStrides, long long out, long long stream) {
    VfLayout L;
    if (!vf_make_layout(L, rank, shape, aStrides, bStrides, nullptr)) return (int)cudaErrorInvalidValue;
    long long n = vf_numel(rank, shape);
    if (n == 0) return 0;
    unsigned g = vf_blocks(n, THREADS);
    cudaStream_t st = VF_STREAM(stream);
    const float* ap = VF_PTR(const float, a);
    const float* bp = VF_PTR(const float, b);
    float* o = VF_PTR(float, out);
    long long addrs[3] = {a, b, out};
    int bytes[3] = {4, 4, 4};
    if (vf_fits32(L, n, 2) && vec4_layout(L, 2, addrs, bytes) && out % 16 == 0 && !(all_dense(rank, aStrides) && all_dense(rank, bStrides))) {
        binary_vec4_kernel<int><<<vf_blocks(n / 4, THREADS), THREADS, 0, st>>>(op, L, (int)(n / 4), ap, bp, o,
                                                                               L.stride[0][L.rank - 1] == 1, L.stride[1][L.rank - 1] == 1);
        return vf_launch_status();
    }
    if (!vf_fits32(L, n, 2))
        binary_kernel<false, long long><<<g, THREADS, 0, st>>>(op, L, n, ap, bp, o);
    else if (all_dense(rank, aStrides) && all_dense(rank, bStrides))
        binary_kernel<true, int><<<g, THREADS, 0, st>>>(op, L, (int)n, ap, bp, o);
    else
        binary_kernel<false, int><<<g, THREADS, 0, st>>>(op, L, (int)n, ap, bp, o);
    return vf_launch_status();
}

int vf_where(int rank, const int* shape, long long cond, const long long* cStrides, long long a,
             const long long* aStrides, long long b, const long long* bStrides, long long out, long long stream) {
    VfLayout L;
    if (!vf_make_layout(L, rank, shape, cStrides, aStrides, bStrides)) return (int)cudaErrorInvalidValue;
    long long n = vf_numel(rank, shape);
    if (n == 0) return 0;
    where_kernel<<<vf_blocks(n, THREADS), THREADS, 0, VF_STREAM(stream)>>>(
        L, n, VF_PTR(const float, cond), VF_PTR(const float, a), VF_PTR(const float, b), VF_PTR(float, out));
    return vf_launch_status();
}

int vf_fma(int rank, const int* shape, long long a, const long long* aStrides, long long b, const long long* bStrides,
           long long c, const long long* cStrides, long long out, long long stream) {
    VfLayout L;
    if (!vf_make_layout(L, rank, shape, aStrides, bStrides, cStrides)) return (int)cudaErrorInvalidValue;
    long long n = vf_numel(rank, shape);
    if (n == 0) return 0;
    bool small = vf_fits32(L, n, 3);
    long long addrs[3] = {a, b, c};
    int bytes[3] = {4, 4, 4};
    if (small && vec4_layout(L, 3, addrs, bytes) && out % 16 == 0) {
        int last = L.rank - 1;
        fma_vec4_kernel<int><<<vf_blocks(n / 4, THREADS), THREADS, 0, VF_STREAM(stream)>>>(
            L, (int)(n / 4), VF_PTR(const float, a), VF_PTR(const float, b), VF_PTR(const float, c), VF_PTR(float, out),
            L.stride[0][last] == 1, L.stride[1][last] == 1, L.stride[2][last] == 1);
        return vf_launch_status();
    }
    if (small)
        fma_kernel<int><<<vf_blocks(n, THREADS), THREADS, 0, VF_STREAM(stream)>>>(
            L, (int)n, VF_PTR(const float, a), VF_PTR(const float, b), VF_PTR(const float, c), VF_PTR(float, out));
    else
        fma_kernel<long long><<<vf_blocks(n, THREADS), THREADS, 0, VF_STREAM(stream)>>>(
            L, n, VF_PTR(const float, a), VF_PTR(const float, b), VF_PTR(const float, c), VF_PTR(float, out));
    return vf_launch_status();
}

}  // extern "C"
