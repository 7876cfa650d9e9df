package org.voxflow.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

/** Off-heap CPU storage: zero-filled allocation, reuse of large freed blocks, bounded idle memory, size limit. */
class CpuStorageTest {
    private final Backend be = Backends.cpu();

    @Test void allocationsAreZeroFilled() {
        for (DType dt : DType.values()) {
            Tensor t = be.zeros(dt, 3, 5);
            assertEquals(dt, t.dtype());
            assertEquals(15 * dt.bytes(), t.storage().bytes());
            for (float f : t.toFloats()) assertEquals(0f, f);
            t.close();
        }
        Tensor empty = be.zeros(DType.F32, 0, 4);
        assertEquals(0, empty.numel());
        assertEquals(0, empty.toFloats().length);
    }

    @Test void largeFreedBlocksAreReusedAndComeBackZeroed() {
        int n = (9 << 20) + 3; // 36 MiB of f32: above glibc's mmap threshold, an unusual size no other test uses
        float[] sevens = new float[n];
        Arrays.fill(sevens, 7f);
        Tensor a = be.fromFloats(sevens, n);
        long address = a.storage().address();
        a.close();
        Tensor b = be.zeros(DType.F32, n);
        if (Long.getLong("voxflow.cpu.poolBytes", 1) > 0)
            assertEquals(address, b.storage().address(), "the freed block is handed to the next storage of its size");
        float[] v = b.toFloats();
        for (int i = 0; i < n; i += 4099) assertEquals(0f, v[i], "element " + i);
        assertEquals(0f, v[n - 1]);
        // a different dtype of the same byte size reuses it too, and reads zeros
        b.close();
        Tensor c = be.zeros(DType.I32, n);
        assertEquals(0, c.toInts()[n - 1]);
        c.close();
        // small blocks are freed normally: using a closed one still fails
        Tensor s = be.zeros(DType.F32, 4);
        s.close();
        assertThrows(IllegalStateException.class, s::toFloats);
        assertThrows(IllegalStateException.class, b::toFloats);
    }

    @Test void idleReuseMemoryIsBounded() {
        long before = Pointer.totalBytes();
        List<Tensor> live = new ArrayList<>();
        for (int i = 0; i < 20; i++) live.add(be.zeros(DType.F32, 10 << 20)); // 20 x 40 MiB
        assertTrue(Pointer.totalBytes() - before >= 20L * (40 << 20) - (512L << 20), "allocated " + (Pointer.totalBytes() - before));
        live.forEach(Tensor::close);
        long idle = Pointer.totalBytes() - before;
        assertTrue(idle <= 512L << 20, "idle bytes kept after closing: " + idle);
        // scoped loops of large temporaries reach a steady state instead of growing
        long start = Pointer.totalBytes();
        for (int i = 0; i < 30; i++) {
            try (MemoryScope scope = MemoryScope.open()) {
                Tensor x = be.zeros(DType.F32, 2048, 4096); // 32 MiB
                be.matmul(x.slice(0, 0, 8), x.slice(0, 0, 8), false, true);
            }
        }
        assertTrue(Pointer.totalBytes() - start <= 64L << 20, "grew by " + (Pointer.totalBytes() - start));
    }

    @Test void overTwoGibibytesIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> be.zeros(DType.I64, 1 << 28));
        assertTrue(e.getMessage().contains("2 GiB"), e.getMessage());
    }
}
