package org.voxflow.cuda;

import static org.voxflow.cuda.CudaRuntime.check;

import org.voxflow.tensor.Recording;

/**
 * A CUDA graph recorded from the backend's stream ({@link CudaBackend#record}): one launch replays every kernel,
 * cuBLAS call, copy and stream-ordered allocation of the body, with no per-op host work.
 */
final class CudaGraph implements Recording {
    private final long stream;
    private final long operations;
    private long exec;

    private CudaGraph(long exec, long operations, long stream) {
        this.exec = exec;
        this.operations = operations;
        this.stream = stream;
    }

    static CudaGraph record(CudaBackend be, DeviceMemory memory, Runnable body) {
        long stream = be.stream();
        memory.beginCapture();
        int rc = VoxKernels.vf_capture_begin(stream);
        if (rc != 0) {
            memory.endCapture();
            check(rc, "cudaStreamBeginCapture");
        }
        RuntimeException failure = null;
        try {
            body.run();
        } catch (RuntimeException | Error e) {
            failure = e instanceof RuntimeException r ? r : new IllegalStateException(e);
        }
        long[] exec = new long[1], nodes = new long[1];
        int endRc = VoxKernels.vf_capture_end(stream, exec, nodes);
        long[] leaked = memory.endCapture();
        if (failure != null) {
            if (exec[0] != 0) VoxKernels.vf_graph_destroy(exec[0]);
            throw new IllegalStateException("recording a CUDA graph failed inside the body (host transfers and "
                    + "synchronization cannot be recorded; run the body once unrecorded so caches are filled): "
                    + failure.getMessage(), failure);
        }
        if (endRc != 0) check(endRc, "cudaStreamEndCapture/cudaGraphInstantiate");
        if (leaked[0] > 0) {
            VoxKernels.vf_graph_destroy(exec[0]);
            throw new IllegalStateException("the recorded body kept " + leaked[0] + " tensor(s) (" + leaked[1]
                    + " bytes) allocated during recording alive; free them inside the body and write results into "
                    + "tensors made before recording");
        }
        return new CudaGraph(exec[0], nodes[0], stream);
    }

    @Override public synchronized void replay() {
        if (exec == 0) throw new IllegalStateException("CUDA graph used after close()");
        check(VoxKernels.vf_graph_launch(exec, stream), "cudaGraphLaunch");
    }

    @Override public long operations() { return operations; }

    @Override public synchronized void close() {
        if (exec == 0) return;
        long e = exec;
        exec = 0;
        check(VoxKernels.vf_graph_destroy(e), "cudaGraphExecDestroy");
    }
}
