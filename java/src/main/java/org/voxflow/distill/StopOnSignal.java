package org.voxflow.distill;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Turns SIGTERM (and any other orderly JVM shutdown) into a stop request at the next step boundary. The JVM exits
 * once its shutdown hooks return, so the hook asks the loop to stop and then waits, up to a grace period, until
 * the loop has written its checkpoint and closed this object.
 */
final class StopOnSignal implements AutoCloseable {
    private final Thread hook;
    private final CountDownLatch loopDone = new CountDownLatch(1);

    StopOnSignal(Runnable requestStop, long graceSeconds) {
        hook = new Thread(() -> {
            requestStop.run();
            try {
                loopDone.await(graceSeconds, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "voxflow-trainer-stop");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    @Override public void close() {
        loopDone.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running (or ran): it returns now that the latch is open
        }
    }
}
