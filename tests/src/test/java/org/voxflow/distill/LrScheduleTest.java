package org.voxflow.distill;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Constant and TRELLIS's linear warmup (lr * (step + 1) / warmup, then lr). */
class LrScheduleTest {
    @Test
    void linearWarmupThenConstant() {
        LrSchedule s = LrSchedule.linearWarmup(1e-3, 4);
        assertEquals(0.25e-3, s.lr(0), 1e-18);
        assertEquals(0.5e-3, s.lr(1), 1e-18);
        assertEquals(1e-3, s.lr(3), 1e-18);
        assertEquals(1e-3, s.lr(4), 0);
        assertEquals(1e-3, s.lr(1_000_000), 0);
        assertEquals(2e-6, LrSchedule.constant(2e-6).lr(123), 0);
        assertEquals(5e-4, LrSchedule.linearWarmup(5e-4, 0).lr(0), 0);
    }
}
