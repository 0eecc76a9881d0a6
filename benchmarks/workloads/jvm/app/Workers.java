package app;

import java.util.concurrent.CountDownLatch;

/**
 * A request-thread pool caught mid-request: every worker is FRAMES calls deep (a framework
 * stack: filters, interceptors, proxies) and waits there, so its stack pages are touched
 * and resident. deep() keeps 16 longs live across the call so that its frame is about the
 * same size interpreted and compiled.
 */
public final class Workers {
    private final CountDownLatch ready;
    private final CountDownLatch release = new CountDownLatch(1);
    private final Thread[] threads;
    static volatile long sink;

    public Workers(int count, int frames) {
        ready = new CountDownLatch(count);
        threads = new Thread[count];
        for (int i = 0; i < count; i++) {
            threads[i] = new Thread(() -> sink += deep(frames, 1), "http-exec-" + i);
            threads[i].setDaemon(true); // an OutOfMemoryError in main must end the JVM
        }
    }

    public void start() throws InterruptedException {
        for (Thread t : threads) t.start();
        ready.await();
    }

    public void stop() throws InterruptedException {
        release.countDown();
        for (Thread t : threads) t.join();
    }

    private long deep(int depth, long x) {
        long a = x + 1, b = a * 3, c = b ^ 5, d = c + 7, e = d * 11, f = e ^ 13, g = f + 17, h = g * 19;
        long i = h ^ 23, j = i + 29, k = j * 31, l = k ^ 37, m = l + 41, n = m * 43, o = n ^ 47, p = o + 53;
        long r;
        if (depth <= 0) {
            ready.countDown();
            try {
                release.await();
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
            }
            r = x;
        } else {
            r = deep(depth - 1, p);
        }
        return r + a + b + c + d + e + f + g + h + i + j + k + l + m + n + o + p;
    }
}
