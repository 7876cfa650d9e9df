package org.voxflow.distill;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.IntFunction;
import org.voxflow.autograd.GradHook;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Tensor;

/**
 * A data-parallel group inside one JVM for CPU tests: each rank is a thread (tensors, autograd and memory scopes are
 * per thread), and every collective meets at a barrier, where ranks swap host copies and combine them in rank order,
 * as NCCL would on the GPU. Buckets are tiny, so the tests go through several of them.
 *
 * <p>With {@code overlap}, the members also {@link GradientSync#overlapsBackward() overlap backward} through a
 * {@link GradientStream} whose transport averages each launched bucket at once, as a collective: a rank that
 * launched buckets in another order than the others would meet them with a bucket of another index or size, which
 * fails the exchange. Each member records its launches ({@link Member#launches()}).
 */
final class ThreadRanks {
    static final long BUCKET_BYTES = 48;

    private final int world;
    private final boolean overlap;
    private final CyclicBarrier barrier;
    private final Object[] slots;

    ThreadRanks(int world) { this(world, false); }

    ThreadRanks(int world, boolean overlap) {
        this.world = world;
        this.overlap = overlap;
        this.barrier = new CyclicBarrier(world);
        this.slots = new Object[world];
    }

    /** Runs body(rank) on one thread per rank and returns the results in rank order (rethrowing the first failure). */
    static <T> List<T> run(int world, java.util.function.BiFunction<Integer, GradientSync, T> body) {
        return run(world, false, body);
    }

    /** The same with members that overlap the all-reduce with backward when {@code overlap}. */
    static <T> List<T> run(int world, boolean overlap, java.util.function.BiFunction<Integer, GradientSync, T> body) {
        ThreadRanks g = new ThreadRanks(world, overlap);
        ExecutorService pool = Executors.newFixedThreadPool(world);
        try {
            List<Future<T>> fs = new ArrayList<>();
            for (int r = 0; r < world; r++) {
                int rank = r;
                fs.add(pool.submit(() -> body.apply(rank, g.member(rank))));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : fs) out.add(f.get(120, TimeUnit.SECONDS));
            return out;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) throw re;
            if (e.getCause() instanceof Error err) throw err;
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException | TimeoutException e) {
            throw new IllegalStateException("ranks did not finish: " + e, e);
        } finally {
            pool.shutdownNow();
        }
    }

    static <T> List<T> run(int world, IntFunction<T> body) { return run(world, (r, s) -> body.apply(r)); }

    Member member(int rank) { return new Member(rank); }

    /** Everyone's contribution, in rank order. */
    private Object[] exchange(int rank, Object mine) {
        try {
            slots[rank] = mine;
            barrier.await(60, TimeUnit.SECONDS);
            Object[] all = slots.clone();
            barrier.await(60, TimeUnit.SECONDS); // nobody overwrites a slot before everyone has read it
            return all;
        } catch (InterruptedException | BrokenBarrierException | TimeoutException e) {
            throw new IllegalStateException("rank " + rank + ": a collective was not joined by every rank (" + e + ")", e);
        }
    }

    final class Member implements GradientSync {
        private final int rank;
        private final List<Integer> launches = new ArrayList<>();
        private GradientStream stream;

        Member(int rank) { this.rank = rank; }

        @Override public int rank() { return rank; }
        @Override public int worldSize() { return world; }
        @Override public boolean dataParallel() { return true; }

        /** Bucket indices in launch order, every step (overlapped path). */
        List<Integer> launches() { return launches; }

        GradientStream stream() { return stream; }

        @Override public boolean overlapsBackward() { return overlap; }

        @Override public GradHook beginStep(Map<String, Tensor> params) {
            if (!overlap) throw new UnsupportedOperationException("overlap is off");
            if (stream == null) stream = new GradientStream(this, BUCKET_BYTES, new GradientStream.Transport() {
                @Override public void launch(int index, Tensor bucket) { averageBucket(index, bucket); }
                @Override public void await() {}
            });
            return stream.beginStep(params);
        }

        @Override public void gradReady(String name, Tensor grad) { opened().gradReady(name, grad); }

        @Override public void finishStep() { opened().finishStep(); }

        private GradientStream opened() {
            if (stream == null) throw new IllegalStateException("no overlapped step was ever begun");
            return stream;
        }

        /** One bucket as a collective: every rank must bring the same index and size. */
        private void averageBucket(int index, Tensor bucket) {
            launches.add(index);
            float[] mine = bucket.toFloats();
            Object[] all = exchange(rank, new Object[] {index, mine});
            float[] sum = new float[mine.length];
            for (int r = 0; r < all.length; r++) {
                Object[] o = (Object[]) all[r];
                float[] v = (float[]) o[1];
                if ((Integer) o[0] != index || v.length != mine.length)
                    throw new IllegalStateException("rank " + rank + " launched bucket " + index + " (" + mine.length + " values) while rank "
                            + r + " launched bucket " + o[0] + " (" + v.length + " values)");
                for (int j = 0; j < sum.length; j++) sum[j] += v[j];
            }
            for (int j = 0; j < sum.length; j++) sum[j] /= world;
            Backend be = bucket.backend();
            be.assign(bucket, be.fromFloats(sum, bucket.shape()));
        }

        @Override public void allReduce(Map<String, Tensor> params) {
            GradientBuckets.allReduce(this, params, BUCKET_BYTES, buckets -> {
                float[][] mine = new float[buckets.size()][];
                for (int i = 0; i < mine.length; i++) mine[i] = buckets.get(i).toFloats();
                Object[] all = exchange(rank, mine);
                for (int i = 0; i < mine.length; i++) {
                    float[] sum = new float[mine[i].length];
                    for (Object o : all) {
                        float[] v = ((float[][]) o)[i];
                        for (int j = 0; j < sum.length; j++) sum[j] += v[j];
                    }
                    for (int j = 0; j < sum.length; j++) sum[j] /= world;
                    Tensor b = buckets.get(i);
                    Backend be = b.backend();
                    be.assign(b, be.fromFloats(sum, b.shape()));
                }
            });
        }

        @Override public double[] allReduceSum(double[] values) {
            Object[] all = exchange(rank, values.clone());
            double[] sum = new double[values.length];
            for (Object o : all) {
                double[] v = (double[]) o;
                if (v.length != sum.length) throw new IllegalStateException("ranks sum vectors of " + v.length + " and " + sum.length + " values");
                for (int j = 0; j < sum.length; j++) sum[j] += v[j];
            }
            return sum;
        }

        @Override public void broadcast(Map<String, Tensor> params) {
            List<float[]> mine = new ArrayList<>();
            for (Tensor p : params.values()) mine.add(p.toFloats());
            @SuppressWarnings("unchecked")
            List<float[]> root = (List<float[]>) exchange(rank, mine)[0];
            int i = 0;
            for (Tensor p : params.values()) {
                p.backend().assign(p, p.backend().fromFloats(root.get(i++), p.shape()));
            }
        }
    }
}
