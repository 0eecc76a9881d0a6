package boot;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The central directory of a zip that is a byte range of a file: the outer jar itself, or a
 * jar stored (uncompressed) inside it, as Spring Boot keeps BOOT-INF/lib/*.jar. Entries are
 * read on demand with positional reads; nothing is extracted to disk or held in memory.
 */
final class ZipIndex {
    /** Where one entry's data lives in the file. */
    record Entry(FileChannel file, long headerAt, int method, int compressedSize, int size) {
        /** Absolute offset of the entry's data (after its local header). */
        long dataAt() throws IOException {
            ByteBuffer h = read(file, headerAt, 30);
            if (h.getInt(0) != 0x04034b50) throw new IOException("bad local header at " + headerAt);
            return headerAt + 30 + Short.toUnsignedInt(h.getShort(26)) + Short.toUnsignedInt(h.getShort(28));
        }

        byte[] bytes() throws IOException {
            ByteBuffer data = read(file, dataAt(), compressedSize);
            if (method == 0) return data.array();
            if (method != 8) throw new IOException("unsupported zip method " + method);
            Inflater inflater = new Inflater(true);
            try {
                inflater.setInput(data.array());
                byte[] out = new byte[size];
                int n = 0;
                while (n < size && !inflater.finished()) n += inflater.inflate(out, n, size - n);
                return out;
            } catch (DataFormatException e) {
                throw new IOException(e);
            } finally {
                inflater.end();
            }
        }
    }

    /** Add every entry of the zip in [start, start + length) of file to entries (first one wins). */
    static void index(FileChannel file, long start, long length, String prefix, Map<String, Entry> entries)
            throws IOException {
        int tail = (int) Math.min(length, 65557);
        ByteBuffer end = read(file, start + length - tail, tail);
        int eocd = tail - 22;
        while (eocd >= 0 && end.getInt(eocd) != 0x06054b50) eocd--;
        if (eocd < 0) throw new IOException("no end of central directory");
        long cdSize = Integer.toUnsignedLong(end.getInt(eocd + 12));
        long cdOffset = Integer.toUnsignedLong(end.getInt(eocd + 16));
        ByteBuffer cd = read(file, start + cdOffset, (int) cdSize);
        for (int p = 0; p + 46 <= cdSize; ) {
            if (cd.getInt(p) != 0x02014b50) throw new IOException("bad central directory entry");
            int method = Short.toUnsignedInt(cd.getShort(p + 10));
            int csize = cd.getInt(p + 20), size = cd.getInt(p + 24);
            int nameLen = Short.toUnsignedInt(cd.getShort(p + 28));
            int extraLen = Short.toUnsignedInt(cd.getShort(p + 30));
            int commentLen = Short.toUnsignedInt(cd.getShort(p + 32));
            long header = start + Integer.toUnsignedLong(cd.getInt(p + 42));
            String name = new String(cd.array(), p + 46, nameLen, java.nio.charset.StandardCharsets.UTF_8);
            if (name.startsWith(prefix) && !name.endsWith("/"))
                entries.putIfAbsent(name.substring(prefix.length()), new Entry(file, header, method, csize, size));
            p += 46 + nameLen + extraLen + commentLen;
        }
    }

    static ByteBuffer read(FileChannel file, long at, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (file.read(b, at + b.position()) < 0) throw new IOException("short read at " + at);
        }
        return b.flip();
    }
}
