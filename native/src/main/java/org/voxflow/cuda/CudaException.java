package org.voxflow.cuda;

/** A failed CUDA, cuBLAS or kernel call: the message names the call and the library's error text. */
public final class CudaException extends RuntimeException {
    private final int code;

    public CudaException(String call, int code, String name, String text) {
        super(call + " failed: " + name + " (" + code + "): " + text);
        this.code = code;
    }

    /** The library's numeric status (cudaError_t or cublasStatus_t). */
    public int code() { return code; }
}
