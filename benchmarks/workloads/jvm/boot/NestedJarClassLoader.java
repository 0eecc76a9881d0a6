package boot;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLConnection;
import java.net.URLStreamHandler;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Loads classes and resources from BOOT-INF/classes/ and from the jars stored in
 * BOOT-INF/lib/ of an executable fat jar, reading the nested jars in place (the design of
 * Spring Boot's launcher, in a few lines).
 */
final class NestedJarClassLoader extends ClassLoader {
    static { registerAsParallelCapable(); }

    private final Map<String, ZipIndex.Entry> entries = new HashMap<>();
    /** Per resource name, every archive's copy (a components index per jar). */
    private final Map<String, List<ZipIndex.Entry>> resources = new HashMap<>();
    final int nestedJars;

    NestedJarClassLoader(Path jar, ClassLoader parent) throws IOException {
        super("boot", parent);
        FileChannel file = FileChannel.open(jar, StandardOpenOption.READ);
        Map<String, ZipIndex.Entry> outer = new HashMap<>();
        ZipIndex.index(file, 0, file.size(), "", outer);
        addArchive(file, 0, file.size(), "BOOT-INF/classes/");
        List<String> libs = new ArrayList<>();
        for (String name : outer.keySet())
            if (name.startsWith("BOOT-INF/lib/") && name.endsWith(".jar")) libs.add(name);
        Collections.sort(libs);
        for (String lib : libs) {
            ZipIndex.Entry e = outer.get(lib);
            if (e.method() != 0) throw new IOException(lib + " must be stored, not compressed");
            addArchive(file, e.dataAt(), e.size(), "");
        }
        nestedJars = libs.size();
    }

    private void addArchive(FileChannel file, long start, long length, String prefix) throws IOException {
        Map<String, ZipIndex.Entry> found = new HashMap<>();
        ZipIndex.index(file, start, length, prefix, found);
        for (Map.Entry<String, ZipIndex.Entry> e : found.entrySet()) {
            entries.putIfAbsent(e.getKey(), e.getValue());
            if (!e.getKey().endsWith(".class"))
                resources.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(e.getValue());
        }
    }

    @Override
    protected Class<?> findClass(String name) throws ClassNotFoundException {
        ZipIndex.Entry e = entries.get(name.replace('.', '/') + ".class");
        if (e == null) throw new ClassNotFoundException(name);
        try {
            byte[] b = e.bytes();
            return defineClass(name, b, 0, b.length);
        } catch (IOException ex) {
            throw new ClassNotFoundException(name, ex);
        }
    }

    @Override
    protected URL findResource(String name) {
        List<ZipIndex.Entry> list = resources.get(name);
        return list == null ? null : url(name, list.get(0));
    }

    @Override
    protected Enumeration<URL> findResources(String name) {
        List<URL> urls = new ArrayList<>();
        for (ZipIndex.Entry e : resources.getOrDefault(name, List.of())) urls.add(url(name, e));
        return Collections.enumeration(urls);
    }

    private static URL url(String name, ZipIndex.Entry e) {
        URLStreamHandler handler = new URLStreamHandler() {
            @Override
            protected URLConnection openConnection(URL u) {
                return new URLConnection(u) {
                    @Override
                    public void connect() {
                    }

                    @Override
                    public InputStream getInputStream() throws IOException {
                        return new ByteArrayInputStream(e.bytes());
                    }
                };
            }
        };
        try {
            return new URL("nested", "", -1, "/" + e.headerAt() + "/" + name, handler);
        } catch (MalformedURLException ex) {
            throw new IllegalStateException(ex);
        }
    }
}
