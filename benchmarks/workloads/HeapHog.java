// JVM workload for benchmarks/oom.py: hold a live set, churn garbage, optionally
// park many threads on deep stacks while doing so.
//
//   java HeapHog LIVE_MIB CHURN_MIB [THREADS STACK_KIB [META_MIB [DIRECT_MIB]]]
//
// LIVE_MIB   live byte arrays (64 KiB each) kept reachable to the end; 1/8 of
//            the allocations below replace a random live chunk, so the old
//            generation fills with garbage too and must be collected.
// CHURN_MIB  short-lived garbage allocated after the live set is in place.
// THREADS    threads started first; each recurses until about STACK_KIB of
//            its stack is in use (touched, so it is resident) and waits there
//            until the churn is over.
// META_MIB   metaspace to fill with hidden classes (copies of HeapHogFiller),
//            as a framework's loaded classes would.
// DIRECT_MIB direct ByteBuffers (off-heap, as Netty or NIO would use), touched.
//
// Prints "maxHeapMiB=..." first (what the JVM chose), "OK ..." last.
// Exit codes: 0 finished; 3 StackOverflowError in a worker thread; 4 GC
// thrash (over 90% of the last 5 s spent in GC: the JVM's own GC overhead
// limit exists only in the Parallel collector, so this stands in for it); an
// OutOfMemoryError is left uncaught (the JVM prints it and exits 1, or 3
// with -XX:+ExitOnOutOfMemoryError); 137 (SIGKILL) is the kernel's OOM killer.
import java.lang.invoke.MethodHandles;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

public class HeapHog {
    static final int CHUNK = 64 * 1024;
    static volatile Object sink;
    static final AtomicInteger overflows = new AtomicInteger();

    public static void main(String[] args) throws Exception {
        int liveMiB = Integer.parseInt(args[0]);
        long churnMiB = Long.parseLong(args[1]);
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : 0;
        int stackKiB = args.length > 3 ? Integer.parseInt(args[3]) : 0;
        int metaMiB = args.length > 4 ? Integer.parseInt(args[4]) : 0;
        int directMiB = args.length > 5 ? Integer.parseInt(args[5]) : 0;
        Runtime rt = Runtime.getRuntime();
        System.out.printf("maxHeapMiB=%.1f%n", rt.maxMemory() / 1048576.0);
        System.out.flush();

        startThrashWatchdog();
        CountDownLatch ready = new CountDownLatch(threads);
        CountDownLatch release = new CountDownLatch(1);
        Thread[] ts = new Thread[threads];
        for (int i = 0; i < threads; i++) {
            ts[i] = new Thread(() -> park(stackKiB, ready, release), "deep-" + i);
            ts[i].setDaemon(true); // an OutOfMemoryError in main must end the JVM
            ts[i].start();
        }
        ready.await();
        if (overflows.get() > 0) {
            System.out.println("StackOverflowError in " + overflows.get() + " threads");
            System.exit(3);
        }

        List<Object> nonHeap = new ArrayList<>();
        int classes = fillMetaspace(metaMiB, nonHeap);
        for (int i = 0; i < directMiB; i++) {
            ByteBuffer b = ByteBuffer.allocateDirect(1048576);
            for (int p = 0; p < 1048576; p += 4096) b.put(p, (byte) 1);
            nonHeap.add(b);
        }

        byte[][] live = new byte[liveMiB * (1048576 / CHUNK)][];
        for (int i = 0; i < live.length; i++) {
            live[i] = new byte[CHUNK];
            live[i][i % CHUNK] = 1;
        }
        Random r = new Random(42);
        long budget = churnMiB * 1048576L, allocated = 0;
        int n = 0;
        while (allocated < budget) {
            int size = 512 + r.nextInt(32 * 1024);
            byte[] g = new byte[size];
            g[size - 1] = 1;
            sink = g;
            allocated += size;
            if (++n % 8 == 0 && live.length > 0) {
                byte[] c = new byte[CHUNK];
                c[0] = 1;
                live[r.nextInt(live.length)] = c;
                allocated += CHUNK;
            }
        }
        release.countDown();
        for (Thread t : ts) t.join();
        long used = rt.totalMemory() - rt.freeMemory();
        System.out.printf("OK live=%d churn=%d threads=%d hiddenClasses=%d metaspaceMiB=%.1f "
                + "direct=%d committedHeapMiB=%.1f usedMiB=%.1f%n",
                liveMiB, churnMiB, threads, classes, metaspaceUsed() / 1048576.0, nonHeap.size() - classes,
                rt.totalMemory() / 1048576.0, used / 1048576.0);
    }

    static long gcMillis() {
        long t = 0;
        for (GarbageCollectorMXBean b : ManagementFactory.getGarbageCollectorMXBeans())
            t += Math.max(0, b.getCollectionTime());
        return t;
    }

    static void startThrashWatchdog() {
        Thread w = new Thread(() -> {
            final int window = 10; // samples of 500 ms
            long[] wall = new long[window], gc = new long[window];
            for (int n = 0; ; n++) {
                try {
                    Thread.sleep(500);
                } catch (InterruptedException e) {
                    return;
                }
                long now = System.nanoTime() / 1_000_000, g = gcMillis();
                int i = n % window;
                if (n >= window && g - gc[i] > 0.9 * (now - wall[i])) {
                    System.out.printf("GC thrash: %d ms of GC in the last %d ms%n",
                            g - gc[i], now - wall[i]);
                    System.out.flush();
                    Runtime.getRuntime().halt(4);
                }
                wall[i] = now;
                gc[i] = g;
            }
        }, "thrash-watchdog");
        w.setDaemon(true);
        w.start();
    }

    static long metaspaceUsed() {
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans())
            if (p.getName().equals("Metaspace")) return p.getUsage().getUsed();
        return 0;
    }

    // Define hidden copies of HeapHogFiller until metaspace has grown by metaMiB.
    static int fillMetaspace(int metaMiB, List<Object> keep) throws Exception {
        if (metaMiB <= 0) return 0;
        byte[] bytes;
        try (var in = HeapHog.class.getResourceAsStream("HeapHogFiller.class")) {
            bytes = in.readAllBytes();
        }
        MethodHandles.Lookup lookup = MethodHandles.lookup();
        long start = metaspaceUsed(), goal = start + metaMiB * 1048576L;
        int n = 0;
        while (metaspaceUsed() < goal) {
            for (int i = 0; i < 64; i++, n++)
                keep.add(lookup.defineHiddenClass(bytes, true).lookupClass());
        }
        return n;
    }

    // Recurse until about stackKiB of stack is in use, then wait. FRAME_BYTES is
    // the size of one interpreted deep() frame, calibrated on HotSpot 17 x86_64:
    // 850 "KiB" fits in -Xss1m and 900 overflows, 128 fits in -Xss256k and 150
    // overflows (the guard and shadow zones take the rest).
    static void park(int stackKiB, CountDownLatch ready, CountDownLatch release) {
        try {
            deep(stackKiB * 1024L / FRAME_BYTES, ready, release);
        } catch (StackOverflowError e) {
            overflows.incrementAndGet();
            ready.countDown();
        }
    }

    static final long FRAME_BYTES = 184;

    static long deep(long depth, CountDownLatch ready, CountDownLatch release) {
        long a = depth, b = depth * 3, c = depth ^ 7, d = depth + 11;
        if (depth <= 0) {
            ready.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return a;
        }
        return deep(depth - 1, ready, release) + a + b + c + d;
    }
}

// Template for the hidden classes: enough methods to take a few KiB of metaspace each.
class HeapHogFiller {
    static long m0(long x) { long y = x * 3 + 0; for (int i = 0; i < 2; i++) y ^= (y << 7) + i * 13L; return y + "s0".hashCode(); }
    static long m1(long x) { long y = x * 4 + 1; for (int i = 0; i < 3; i++) y ^= (y << 7) + i * 14L; return y + "s1".hashCode(); }
    static long m2(long x) { long y = x * 5 + 2; for (int i = 0; i < 4; i++) y ^= (y << 7) + i * 15L; return y + "s2".hashCode(); }
    static long m3(long x) { long y = x * 6 + 3; for (int i = 0; i < 5; i++) y ^= (y << 7) + i * 16L; return y + "s3".hashCode(); }
    static long m4(long x) { long y = x * 7 + 4; for (int i = 0; i < 6; i++) y ^= (y << 7) + i * 17L; return y + "s4".hashCode(); }
    static long m5(long x) { long y = x * 8 + 5; for (int i = 0; i < 7; i++) y ^= (y << 7) + i * 18L; return y + "s5".hashCode(); }
    static long m6(long x) { long y = x * 9 + 6; for (int i = 0; i < 8; i++) y ^= (y << 7) + i * 19L; return y + "s6".hashCode(); }
    static long m7(long x) { long y = x * 10 + 7; for (int i = 0; i < 9; i++) y ^= (y << 7) + i * 20L; return y + "s7".hashCode(); }
    static long m8(long x) { long y = x * 11 + 8; for (int i = 0; i < 10; i++) y ^= (y << 7) + i * 21L; return y + "s8".hashCode(); }
    static long m9(long x) { long y = x * 12 + 9; for (int i = 0; i < 11; i++) y ^= (y << 7) + i * 22L; return y + "s9".hashCode(); }
    static long m10(long x) { long y = x * 13 + 10; for (int i = 0; i < 12; i++) y ^= (y << 7) + i * 23L; return y + "s10".hashCode(); }
    static long m11(long x) { long y = x * 14 + 11; for (int i = 0; i < 13; i++) y ^= (y << 7) + i * 24L; return y + "s11".hashCode(); }
    static long m12(long x) { long y = x * 15 + 12; for (int i = 0; i < 14; i++) y ^= (y << 7) + i * 25L; return y + "s12".hashCode(); }
    static long m13(long x) { long y = x * 16 + 13; for (int i = 0; i < 15; i++) y ^= (y << 7) + i * 26L; return y + "s13".hashCode(); }
    static long m14(long x) { long y = x * 17 + 14; for (int i = 0; i < 16; i++) y ^= (y << 7) + i * 27L; return y + "s14".hashCode(); }
    static long m15(long x) { long y = x * 18 + 15; for (int i = 0; i < 17; i++) y ^= (y << 7) + i * 28L; return y + "s15".hashCode(); }
    static long m16(long x) { long y = x * 19 + 16; for (int i = 0; i < 18; i++) y ^= (y << 7) + i * 29L; return y + "s16".hashCode(); }
    static long m17(long x) { long y = x * 20 + 17; for (int i = 0; i < 19; i++) y ^= (y << 7) + i * 30L; return y + "s17".hashCode(); }
    static long m18(long x) { long y = x * 21 + 18; for (int i = 0; i < 20; i++) y ^= (y << 7) + i * 31L; return y + "s18".hashCode(); }
    static long m19(long x) { long y = x * 22 + 19; for (int i = 0; i < 21; i++) y ^= (y << 7) + i * 32L; return y + "s19".hashCode(); }
    static long m20(long x) { long y = x * 23 + 20; for (int i = 0; i < 22; i++) y ^= (y << 7) + i * 33L; return y + "s20".hashCode(); }
    static long m21(long x) { long y = x * 24 + 21; for (int i = 0; i < 23; i++) y ^= (y << 7) + i * 34L; return y + "s21".hashCode(); }
    static long m22(long x) { long y = x * 25 + 22; for (int i = 0; i < 24; i++) y ^= (y << 7) + i * 35L; return y + "s22".hashCode(); }
    static long m23(long x) { long y = x * 26 + 23; for (int i = 0; i < 25; i++) y ^= (y << 7) + i * 36L; return y + "s23".hashCode(); }
}
