package org.voxflow.distill;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.voxflow.autograd.Grad;
import org.voxflow.models.trellis.FlowModel;
import org.voxflow.models.trellis.TrellisCheckpoint;
import org.voxflow.sparse.SparseFixtures;
import org.voxflow.sparse.SparseStructure;
import org.voxflow.tensor.Backend;
import org.voxflow.tensor.Backends;
import org.voxflow.tensor.Rng;
import org.voxflow.tensor.Tensor;

/**
 * MDT-dist on sparse (stage-2) batches: noise per voxel, t per instance, and the d_norm normalization per instance
 * over all its voxels and channels. With those semantics an instance's loss does not depend on the other
 * instances in its batch, so the batch loss is the voxel-weighted mean of the single-instance losses.
 */
class SparseMdtTest {
    static final Path REF = Path.of("src/test/resources/trellis-ref");

    @Test void perInstanceSemanticsInDiscreteAndContinuousModes() {
        Backend be = Backends.cpu();
        FlowModel teacher = TrellisCheckpoint.load(REF.resolve("slat_flow_a"), be);
        FlowModel student = TrellisCheckpoint.load(REF.resolve("slat_flow_a"), be); // a separate copy: the student
        int na = 30, nb = 18;
        int[] a = SparseFixtures.instance(0, na, 1), b = SparseFixtures.instance(1, nb, 6);
        int[] both = new int[(na + nb) * 4];
        System.arraycopy(a, 0, both, 0, a.length);
        System.arraycopy(b, 0, both, a.length, b.length);
        Rng rng = new Rng(5);
        float[] x0 = rng.normal((na + nb) * 8), noise = rng.normal((na + nb) * 8), fake = rng.normal((na + nb) * 8);
        float[] cond = rng.normal(2 * 5 * 32);
        float[] t = {0.7f, 0.35f};
        for (MdtSettings.Mode mode : new MdtSettings.Mode[] {MdtSettings.Mode.DISCRETE, MdtSettings.Mode.CONTINUOUS}) {
            MdtSettings s = new MdtSettings(mode, 0.01, 1e-5, new double[] {2}, new double[] {3}, 1, 1, true, 1, 1, 1);
            MdtDistObjective obj = new MdtDistObjective(teacher, student, s);
            double lab, la, lb;
            try (var ng = Grad.noGrad()) {
                lab = loss(obj, be, both, 2, x0, noise, fake, cond, t, 0, na + nb);
                la = loss(obj, be, a, 1, x0, noise, fake, cond, new float[] {t[0]}, 0, na);
                int[] b0 = b.clone();
                for (int i = 0; i < nb; i++) b0[i * 4] = 0;
                lb = loss(obj, be, b0, 1, x0, noise, fake, java.util.Arrays.copyOfRange(cond, 5 * 32, 10 * 32), new float[] {t[1]}, na, na + nb);
            }
            double weighted = (la * na + lb * nb) / (na + nb);
            assertTrue(Double.isFinite(lab) && lab > 0, mode + " loss " + lab);
            assertEquals(weighted, lab, 1e-4 * Math.abs(lab), mode + ": batch loss " + lab + " vs per-instance " + weighted);
        }
    }

    private static double loss(MdtDistObjective obj, Backend be, int[] coords, int batch, float[] x0, float[] noise, float[] fake,
                               float[] cond, float[] t, int from, int to) {
        SparseStructure s = new SparseStructure(coords, batch);
        int n = to - from;
        Tensor x = be.fromFloats(java.util.Arrays.copyOfRange(x0, from * 8, to * 8), n, 8);
        Batch batchData = Batch.sparse(s, x, be.fromFloats(java.util.Arrays.copyOf(cond, batch * 5 * 32), batch, 5, 32));
        return obj.terms(batchData, be.fromFloats(java.util.Arrays.copyOfRange(noise, from * 8, to * 8), n, 8),
                be.fromFloats(java.util.Arrays.copyOfRange(fake, from * 8, to * 8), n, 8), be.fromFloats(t, batch), 2, 3).total().item();
    }
}
