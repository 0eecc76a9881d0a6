package app;

import java.lang.ref.ReferenceQueue;
import java.lang.ref.SoftReference;
import java.util.HashMap;
import java.util.Map;

/**
 * A response cache whose values are softly reachable (as Guava's softValues() or an
 * image/template cache): it grows until the collector needs the space, so under steady
 * traffic the heap fills to -Xmx and stays there.
 */
public final class SoftCache {
    private static final class Entry extends SoftReference<byte[]> {
        final long key;

        Entry(long key, byte[] value, ReferenceQueue<byte[]> queue) {
            super(value, queue);
            this.key = key;
        }
    }

    private final Map<Long, Entry> map = new HashMap<>();
    private final ReferenceQueue<byte[]> queue = new ReferenceQueue<>();
    long cleared;

    public void put(long key, byte[] value) {
        expunge();
        map.put(key, new Entry(key, value, queue));
    }

    public byte[] get(long key) {
        Entry e = map.get(key);
        return e == null ? null : e.get();
    }

    public int size() {
        expunge();
        return map.size();
    }

    private void expunge() {
        for (Object r; (r = queue.poll()) != null; ) {
            Entry e = (Entry) r;
            if (map.get(e.key) == e) map.remove(e.key);
            cleared++;
        }
    }
}
