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
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Tensor;

/**
 * A data-parallel group inside one JVM for CPU tests: each rank is a thread (tensors, autograd and memory scopes are
 * per thread), and every collective meets at a barrier, where ranks swap host copies and combine them in rank order,
 * as NCCL would on the GPU. Buckets are tiny, so the tests go through several of them.
 */
final class ThreadRanks {
    static final long BUCKET_BYTES = 48;

    private final int world;
    private final CyclicBarrier barrier;
    private final Object[] slots;

    ThreadRanks(int world) {
        this.world = world;
        this.barrier = new CyclicBarrier(world);
        this.slots = new Object[world];
    }

    /** Runs body(rank) on one thread per rank and returns the results in rank order (rethrowing the first failure). */
    static <T> List<T> run(int world, java.util.function.BiFunction<Integer, GradientSync, T> body) {
        ThreadRanks g = new ThreadRanks(world);
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

    GradientSync member(int rank) { return new Member(rank); }

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

    private final class Member implements GradientSync {
        private final int rank;

        Member(int rank) { this.rank = rank; }

        @Override public int rank() { return rank; }
        @Override public int worldSize() { return world; }
        @Override public boolean dataParallel() { return true; }

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
