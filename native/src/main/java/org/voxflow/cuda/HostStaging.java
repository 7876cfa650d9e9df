package org.voxflow.cuda;

import static org.voxflow.cuda.CudaRuntime.check;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;

/**
 * Transfers of Java arrays through one page-locked staging buffer, chunk by chunk. Handing a Java array straight
 * to cudaMemcpy costs a JNI copy into fresh (page-faulting) native memory plus a pageable DMA: about 1 GB/s
 * measured on the H100 host. Copying into pinned memory with JNI's array-region copy and DMA from there avoids
 * both.
 */
final class HostStaging {
    private static final long BYTES = 32L << 20;

    private final long stream;
    private final long address;
    private final FloatPointer floats;
    private final IntPointer ints;
    private final LongPointer longs;

    HostStaging(long stream) {
        this.stream = stream;
        long[] p = new long[1];
        check(VoxKernels.vf_host_alloc(p, BYTES), "cudaHostAlloc(" + BYTES + ")");
        this.address = p[0];
        DevicePointer at = new DevicePointer(address);
        this.floats = new FloatPointer(at).capacity(BYTES / 4);
        this.ints = new IntPointer(at).capacity(BYTES / 4);
        this.longs = new LongPointer(at).capacity(BYTES / 8);
    }

    synchronized void upload(float[] src, long dst) {
        int chunk = (int) (BYTES / 4);
        for (int off = 0; off < src.length; off += chunk) {
            int n = Math.min(chunk, src.length - off);
            floats.position(0).put(src, off, n);
            check(VoxKernels.vf_memcpy_h2d(dst + 4L * off, address, 4L * n, stream), "cudaMemcpy(host->device)");
        }
    }

    synchronized void upload(int[] src, long dst) {
        int chunk = (int) (BYTES / 4);
        for (int off = 0; off < src.length; off += chunk) {
            int n = Math.min(chunk, src.length - off);
            ints.position(0).put(src, off, n);
            check(VoxKernels.vf_memcpy_h2d(dst + 4L * off, address, 4L * n, stream), "cudaMemcpy(host->device)");
        }
    }

    synchronized void upload(long[] src, long dst) {
        int chunk = (int) (BYTES / 8);
        for (int off = 0; off < src.length; off += chunk) {
            int n = Math.min(chunk, src.length - off);
            longs.position(0).put(src, off, n);
            check(VoxKernels.vf_memcpy_h2d(dst + 8L * off, address, 8L * n, stream), "cudaMemcpy(host->device)");
        }
    }

    synchronized void download(long src, float[] dst) {
        int chunk = (int) (BYTES / 4);
        for (int off = 0; off < dst.length; off += chunk) {
            int n = Math.min(chunk, dst.length - off);
            check(VoxKernels.vf_memcpy_d2h(address, src + 4L * off, 4L * n, stream), "cudaMemcpy(device->host)");
            floats.position(0).get(dst, off, n);
        }
    }

    synchronized void download(long src, int[] dst) {
        int chunk = (int) (BYTES / 4);
        for (int off = 0; off < dst.length; off += chunk) {
            int n = Math.min(chunk, dst.length - off);
            check(VoxKernels.vf_memcpy_d2h(address, src + 4L * off, 4L * n, stream), "cudaMemcpy(device->host)");
            ints.position(0).get(dst, off, n);
        }
    }

    synchronized void download(long src, long[] dst) {
        int chunk = (int) (BYTES / 8);
        for (int off = 0; off < dst.length; off += chunk) {
            int n = Math.min(chunk, dst.length - off);
            check(VoxKernels.vf_memcpy_d2h(address, src + 8L * off, 8L * n, stream), "cudaMemcpy(device->host)");
            longs.position(0).get(dst, off, n);
        }
    }
}
