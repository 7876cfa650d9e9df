package org.voxflow.cuda.dist;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Hands rank 0's payload (NCCL's unique id) to every other rank over plain TCP: rank 0 listens on MASTER_PORT (all
 * interfaces), each other rank connects to MASTER_ADDR:MASTER_PORT (retrying until rank 0 is up), says who it is,
 * and receives the payload. Rank 0 returns once every rank has its copy. Pure Java, no CUDA.
 *
 * <p>Wire format (big-endian): hello = magic, protocol version, world size, rank (4 ints); reply = status byte
 * (0 ok, 1 error), then the payload length and bytes, or an error message (modified UTF-8).
 */
public final class Rendezvous {
    private static final int MAGIC = 0x76786466; // "vxdf"
    private static final int VERSION = 1;

    private Rendezvous() {}

    /** Rank 0 builds the payload and serves it; the others fetch it. A world of one just builds it. */
    public static byte[] exchange(DistEnv env, Supplier<byte[]> rootPayload, Duration timeout) {
        if (env.worldSize() == 1) return rootPayload.get();
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            return env.isRoot() ? serve(env, rootPayload.get(), deadline, timeout) : fetch(env, deadline, timeout);
        } catch (IOException e) {
            throw new UncheckedIOException("rendezvous of " + env + ": " + e.getMessage(), e);
        }
    }

    private static int remainingMillis(long deadline) {
        long ms = (deadline - System.nanoTime()) / 1_000_000;
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, ms));
    }

    private static byte[] serve(DistEnv env, byte[] payload, long deadline, Duration timeout) throws IOException {
        boolean[] joined = new boolean[env.worldSize()];
        joined[0] = true;
        int missing = env.worldSize() - 1;
        try (ServerSocket server = new ServerSocket()) {
            server.setReuseAddress(true);
            server.bind(new InetSocketAddress(env.masterPort()));
            while (missing > 0) {
                server.setSoTimeout(remainingMillis(deadline));
                Socket s;
                try {
                    s = server.accept();
                } catch (SocketTimeoutException e) {
                    List<Integer> absent = new ArrayList<>();
                    for (int r = 0; r < joined.length; r++) if (!joined[r]) absent.add(r);
                    throw new IOException("rank 0 waited " + timeout.toSeconds() + " s on port " + env.masterPort()
                            + " and ranks " + absent + " never connected");
                }
                try (s) {
                    s.setSoTimeout(remainingMillis(deadline));
                    s.setTcpNoDelay(true);
                    DataInputStream in = new DataInputStream(s.getInputStream());
                    DataOutputStream out = new DataOutputStream(s.getOutputStream());
                    int magic, version, world, rank;
                    try {
                        magic = in.readInt();
                        version = in.readInt();
                        world = in.readInt();
                        rank = in.readInt();
                    } catch (IOException e) {
                        continue; // not one of ours (a port scan, a peer that died): keep waiting
                    }
                    String problem = null;
                    if (magic != MAGIC || version != VERSION) problem = "not a voxflow rendezvous (protocol " + version + ")";
                    else if (world != env.worldSize()) problem = "rank " + rank + " says WORLD_SIZE=" + world + ", rank 0 has " + env.worldSize();
                    else if (rank <= 0 || rank >= world) problem = "RANK " + rank + " outside [1, " + world + ")";
                    else if (joined[rank]) problem = "two processes claim RANK " + rank;
                    if (problem != null) {
                        out.writeByte(1);
                        out.writeUTF(problem);
                        out.flush();
                        if (magic == MAGIC) throw new IOException(problem);
                        continue;
                    }
                    out.writeByte(0);
                    out.writeInt(payload.length);
                    out.write(payload);
                    out.flush();
                    joined[rank] = true;
                    missing--;
                }
            }
        }
        return payload.clone();
    }

    private static byte[] fetch(DistEnv env, long deadline, Duration timeout) throws IOException {
        IOException last = null;
        while (System.nanoTime() < deadline) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(env.masterAddr(), env.masterPort()), Math.min(remainingMillis(deadline), 5000));
                s.setSoTimeout(remainingMillis(deadline));
                s.setTcpNoDelay(true);
                DataOutputStream out = new DataOutputStream(s.getOutputStream());
                out.writeInt(MAGIC);
                out.writeInt(VERSION);
                out.writeInt(env.worldSize());
                out.writeInt(env.rank());
                out.flush();
                DataInputStream in = new DataInputStream(s.getInputStream());
                int status = in.readUnsignedByte();
                if (status != 0) throw new IllegalStateException("rank 0 refused " + env + ": " + in.readUTF());
                int n = in.readInt();
                if (n < 0 || n > (1 << 20)) throw new IOException("rank 0 sent a payload of " + n + " bytes");
                byte[] payload = new byte[n];
                in.readFully(payload);
                return payload;
            } catch (ConnectException | NoRouteToHostException | SocketTimeoutException | UnknownHostException e) {
                last = e; // rank 0 not listening yet (or the name not resolvable yet): retry
            } catch (java.io.EOFException e) {
                last = e; // connected to a server that went away (a previous job's): retry
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for rank 0", ie);
            }
        }
        throw new IOException("rank " + env.rank() + " could not reach rank 0 at " + env.masterAddr() + ":" + env.masterPort()
                + " within " + timeout.toSeconds() + " s" + (last != null ? " (last error: " + last + ")" : ""));
    }
}
