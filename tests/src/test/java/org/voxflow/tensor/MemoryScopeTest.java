package org.voxflow.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Deterministic lifetimes: scope-owned storages are freed at close, kept ones move out, stale use fails clearly. */
class MemoryScopeTest {
    private final Backend be = Backends.cpu();

    @Test void tensorsAreFreedAtCloseAndKeptOnesSurvive() {
        Tensor outside = be.full(1f, 3);
        Tensor temp, kept, result;
        try (MemoryScope scope = MemoryScope.open()) {
            temp = be.full(2f, 3);
            Tensor sum = be.binary(BinaryOp.ADD, outside, temp);
            result = be.matmul(sum.reshape(1, 3), sum.reshape(3, 1), false, false);
            kept = MemoryScope.keep(be.affine(sum, 2f, 0f));
            assertFalse(temp.storage().isClosed());
            assertFalse(result.storage().isClosed());
        }
        assertTrue(temp.storage().isClosed());
        assertTrue(result.storage().isClosed());
        assertFalse(kept.storage().isClosed());
        assertFalse(outside.storage().isClosed());
        assertArrayEquals(new float[] {6, 6, 6}, kept.toFloats());
        assertArrayEquals(new float[] {1, 1, 1}, outside.toFloats());
    }

    @Test void useAfterCloseThrowsWithClearMessage() {
        Tensor t;
        try (MemoryScope scope = MemoryScope.open()) {
            t = be.fromFloats(new float[] {1, 2, 3, 4}, 2, 2);
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, t::toFloats);
        assertTrue(e.getMessage().contains("used after its memory scope closed"), e.getMessage());
        assertTrue(e.getMessage().contains("MemoryScope.keep"), e.getMessage());
        assertTrue(e.getMessage().contains("F32") && e.getMessage().contains("4 elements"), e.getMessage());
        // every path that touches the memory fails the same way, views included
        assertThrows(IllegalStateException.class, () -> t.transpose(0, 1).toFloats());
        assertThrows(IllegalStateException.class, () -> be.unary(UnaryOp.EXP, t));
        assertThrows(IllegalStateException.class, () -> be.matmul(t, t, false, false));
        assertThrows(IllegalStateException.class, () -> be.copy(t));
        assertThrows(IllegalStateException.class, () -> t.storage().address());
        Tensor dst = be.zeros(DType.F32, 2, 2);
        assertThrows(IllegalStateException.class, () -> be.assign(dst, t));
        assertThrows(IllegalStateException.class, () -> be.assign(t, dst));
    }

    @Test void nestedScopesMoveKeptTensorsOutward() {
        Tensor inner, innerKept, outerOwned;
        try (MemoryScope outer = MemoryScope.open()) {
            outerOwned = be.zeros(DType.F32, 2);
            try (MemoryScope in = MemoryScope.open()) {
                inner = be.zeros(DType.F32, 2);
                innerKept = MemoryScope.keep(be.full(3f, 2));
            }
            assertTrue(inner.storage().isClosed());
            assertFalse(innerKept.storage().isClosed()); // now owned by the outer scope
            assertFalse(outerOwned.storage().isClosed());
        }
        assertTrue(innerKept.storage().isClosed()); // not kept again: freed with the outer scope
        assertTrue(outerOwned.storage().isClosed());
    }

    @Test void keepingThroughEveryLevelReachesTheCaller() {
        Tensor t;
        try (MemoryScope a = MemoryScope.open()) {
            try (MemoryScope b = MemoryScope.open()) {
                t = MemoryScope.keep(be.full(5f, 1));
            }
            MemoryScope.keep(t);
        }
        assertEquals(5f, t.item());
    }

    @Test void keepAlsoKeepsTheGrad() {
        Tensor p;
        try (MemoryScope s = MemoryScope.open()) {
            p = be.full(1f, 2);
            p.setGrad(be.full(0.5f, 2));
            MemoryScope.keep(p);
        }
        assertFalse(p.storage().isClosed());
        assertArrayEquals(new float[] {0.5f, 0.5f}, p.grad().toFloats());
    }

    @Test void keepAlsoKeepsTheTangent() {
        Tensor p;
        try (MemoryScope s = MemoryScope.open()) {
            p = be.full(1f, 2);
            p.setTangent(be.full(0.25f, 2));
            MemoryScope.keep(p);
        }
        assertArrayEquals(new float[] {0.25f, 0.25f}, p.tangent().toFloats());
    }

    @Test void outsideAllocationsBelongToNoScope() {
        Tensor cache, inner;
        try (MemoryScope s = MemoryScope.open()) {
            cache = MemoryScope.outside(() -> be.full(9f, 3));
            inner = be.zeros(DType.F32, 3);
            Tensor nested = MemoryScope.outside(() -> MemoryScope.outside(() -> be.zeros(DType.F32, 1)));
            assertFalse(nested.storage().isClosed());
        }
        assertTrue(inner.storage().isClosed());
        assertFalse(cache.storage().isClosed());
        assertArrayEquals(new float[] {9, 9, 9}, cache.toFloats());
        // the depth counter unwinds even when the allocation throws
        assertThrows(IllegalArgumentException.class, () -> MemoryScope.outside(() -> be.zeros(DType.F32, 1 << 30)));
        Tensor after;
        try (MemoryScope s = MemoryScope.open()) {
            after = be.zeros(DType.F32, 1);
        }
        assertTrue(after.storage().isClosed());
    }

    @Test void viewsShareTheOwnerAndKeepingAViewKeepsTheStorage() {
        Tensor base, view;
        try (MemoryScope s = MemoryScope.open()) {
            base = be.fromFloats(Oracle.seq(6), 2, 3);
            view = MemoryScope.keep(base.transpose(0, 1));
        }
        assertSame(base.storage(), view.storage());
        assertFalse(base.storage().isClosed());
        assertArrayEquals(new float[] {0, 3, 1, 4, 2, 5}, view.toFloats());
    }

    @Test void closingOutOfOrderOrOnAnotherThreadFails() throws Exception {
        MemoryScope outer = MemoryScope.open();
        MemoryScope inner = MemoryScope.open();
        IllegalStateException e = assertThrows(IllegalStateException.class, outer::close);
        assertTrue(e.getMessage().contains("out of order"), e.getMessage());
        AtomicReference<Throwable> other = new AtomicReference<>();
        Thread th = new Thread(() -> {
            try { inner.close(); } catch (Throwable t) { other.set(t); }
        });
        th.start();
        th.join();
        assertTrue(other.get() instanceof IllegalStateException, String.valueOf(other.get()));
        inner.close();
        outer.close();
        assertDoesNotThrow(outer::close); // closing twice is a no-op
    }

    @Test void scopesArePerThread() throws Exception {
        Tensor mine;
        AtomicReference<Tensor> theirs = new AtomicReference<>();
        try (MemoryScope s = MemoryScope.open()) {
            mine = be.zeros(DType.F32, 1);
            Thread th = new Thread(() -> theirs.set(be.zeros(DType.F32, 1)));
            th.start();
            th.join();
        }
        assertTrue(mine.storage().isClosed());
        assertFalse(theirs.get().storage().isClosed()); // allocated on a thread with no scope open
    }

    @Test void tensorCloseFreesAtOnceAndScopeCloseAfterwardsIsFine() {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor t = be.zeros(DType.F32, 4);
            Tensor v = t.reshape(2, 2);
            t.close();
            assertTrue(v.storage().isClosed());
            assertThrows(IllegalStateException.class, v::toFloats);
            assertDoesNotThrow(t::close);
        }
    }

    /** A storage whose allocation fails (size check) is still registered; closing the scope must free the others. */
    @Test void failedAllocationDoesNotBreakTheScope() {
        Tensor ok;
        MemoryScope s = MemoryScope.open();
        try {
            assertThrows(IllegalArgumentException.class, () -> be.zeros(DType.F32, 1 << 30)); // 4 GiB: over the 2 GiB limit
            ok = be.zeros(DType.F32, 4);
        } finally {
            assertDoesNotThrow(s::close);
        }
        assertTrue(ok.storage().isClosed());
    }

    @Test void manyScopedAllocationsDoNotAccumulate() {
        // 200 x 4 MiB inside scopes: would be 800 MiB if nothing were freed
        long before = org.bytedeco.javacpp.Pointer.totalBytes();
        for (int i = 0; i < 200; i++) {
            try (MemoryScope s = MemoryScope.open()) {
                Tensor t = be.zeros(DType.F32, 1024, 1024);
                assertEquals(0f, t.toFloats()[12345]);
            }
        }
        long grown = org.bytedeco.javacpp.Pointer.totalBytes() - before;
        assertTrue(grown < 16L << 20, "off-heap bytes grew by " + grown);
    }
}
