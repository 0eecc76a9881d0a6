package app;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A service as the JVM matrix benchmark (benchmarks/jvm_matrix.py) runs it.
 *
 *   java [-cp CLASSPATH app.App | -jar fat.jar] [--components] [--direct MIB]
 *        [--threads N] [--frames F] [--cache FACTOR] [--retain MIB]
 *
 * Start-up, in the order a Spring-style service does it:
 *   --components  find every META-INF/app/components.idx on the class path (one per jar or
 *                 directory, like spring.components), load each listed class, instantiate it
 *                 and send it two requests: its service, repository, entity and DTO classes
 *                 load too (five classes per component).
 *   --direct      a pool of 1 MiB direct ByteBuffers (Netty/NIO style), every page touched.
 *   --threads     N request threads, each F frames deep, parked (their stacks stay touched).
 * Then traffic:
 *   --cache       insert FACTOR x the heap limit of 8-64 KiB values into a SoftReference
 *                 cache, reading recent keys and calling components as it goes: the heap
 *                 fills to -Xmx and the collector clears soft references to make room.
 *   --retain      MiB held strongly to the end (a session store): more than the heap holds
 *                 is an OutOfMemoryError: Java heap space.
 * Prints one line, "OK key=value ...", and exits 0; any failure is left to the JVM (an
 * OutOfMemoryError ends main with exit 1; a kernel OOM kill is exit 137).
 */
public final class App {
    public static void main(String[] args) throws Exception {
        try {
            run(args);
        } catch (OutOfMemoryError e) {
            // With metaspace full, the JVM's own report of the error can fail too ("thrown from
            // the UncaughtExceptionHandler"): say which space first, with classes already loaded.
            System.err.print("java.lang.OutOfMemoryError: ");
            System.err.println(e.getMessage());
            System.err.flush();
            throw e;
        }
    }

    static void run(String[] args) throws Exception {
        long t0 = System.nanoTime();
        boolean components = false;
        int directMiB = 0, threads = 0, frames = 600, retainMiB = 0;
        double cacheFactor = 0;
        for (int a = 0; a < args.length; a++) {
            switch (args[a]) {
                case "--components" -> components = true;
                case "--direct" -> directMiB = Integer.parseInt(args[++a]);
                case "--threads" -> threads = Integer.parseInt(args[++a]);
                case "--frames" -> frames = Integer.parseInt(args[++a]);
                case "--cache" -> cacheFactor = Double.parseDouble(args[++a]);
                case "--retain" -> retainMiB = Integer.parseInt(args[++a]);
                default -> throw new IllegalArgumentException("unknown option " + args[a]);
            }
        }
        ClassLoader loader = Thread.currentThread().getContextClassLoader();
        List<Component> beans = components ? scan(loader) : new ArrayList<>();

        List<ByteBuffer> pool = new ArrayList<>();
        for (int i = 0; i < directMiB; i++) {
            ByteBuffer b = ByteBuffer.allocateDirect(1 << 20);
            for (int p = 0; p < b.capacity(); p += 4096) b.put(p, (byte) 1);
            pool.add(b);
        }

        long rssBefore = rssKiB();
        Workers workers = new Workers(threads, frames);
        workers.start();
        long stackKiB = threads > 0 ? (rssKiB() - rssBefore) / threads : 0;

        List<byte[]> retained = new ArrayList<>();
        for (int i = 0; i < retainMiB; i++) retained.add(touch(new byte[1 << 20]));

        SoftCache cache = new SoftCache();
        long inserted = traffic(cache, cacheFactor, beans);
        workers.stop();

        Runtime rt = Runtime.getRuntime();
        System.out.printf("OK components=%d loadedClasses=%d metaspaceMiB=%.1f classSpaceMiB=%.1f "
                + "direct=%d threads=%d stackKiBPerThread=%d cacheInsertedMiB=%d cacheEntries=%d "
                + "cacheCleared=%d retainedMiB=%d heapMaxMiB=%.1f heapCommittedMiB=%.1f wallMs=%d%n",
                beans.size(), ManagementFactory.getClassLoadingMXBean().getLoadedClassCount(),
                poolUsed("Metaspace") / 1048576.0, poolUsed("Compressed Class Space") / 1048576.0,
                pool.size(), threads, stackKiB, inserted >> 20, cache.size(), cache.cleared,
                retained.size(), rt.maxMemory() / 1048576.0, rt.totalMemory() / 1048576.0,
                (System.nanoTime() - t0) / 1_000_000);
    }

    static List<Component> scan(ClassLoader loader) throws Exception {
        List<Component> beans = new ArrayList<>();
        Enumeration<URL> indexes = loader.getResources("META-INF/app/components.idx");
        while (indexes.hasMoreElements()) {
            URL url = indexes.nextElement();
            try (BufferedReader r = new BufferedReader(
                    new InputStreamReader(url.openStream(), StandardCharsets.UTF_8))) {
                for (String name; (name = r.readLine()) != null; ) {
                    if (name.isBlank()) continue;
                    Class<?> c = Class.forName(name.trim(), true, loader);
                    Component bean = (Component) c.getDeclaredConstructor().newInstance();
                    bean.handle(Map.of("op", "create", "name", name, "amount", "42"));
                    bean.handle(Map.of("op", "get", "id", "1"));
                    beans.add(bean);
                }
            }
        }
        return beans;
    }

    static long traffic(SoftCache cache, double factor, List<Component> beans) {
        long goal = (long) (factor * Runtime.getRuntime().maxMemory()), inserted = 0;
        Random random = new Random(7);
        for (long key = 0; inserted < goal; key++) {
            int size = (8 << 10) + random.nextInt(56 << 10);
            cache.put(key, touch(new byte[size]));
            inserted += size;
            if (key % 16 == 0) cache.get(key - random.nextInt(64));
            if (key % 256 == 0 && !beans.isEmpty())
                beans.get(random.nextInt(beans.size())).handle(Map.of("op", "list"));
        }
        return inserted;
    }

    static byte[] touch(byte[] b) {
        for (int i = 0; i < b.length; i += 4096) b[i] = 1;
        return b;
    }

    static long poolUsed(String name) {
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans())
            if (p.getName().equals(name)) return p.getUsage().getUsed();
        return 0;
    }

    static long rssKiB() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status")))
                if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
        } catch (Exception e) {
            // not Linux: no figure
        }
        return 0;
    }
}
