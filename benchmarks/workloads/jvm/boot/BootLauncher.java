package boot;

import java.nio.file.Path;
import java.util.jar.Attributes;
import java.util.jar.JarFile;

/**
 * Main-Class of the benchmark's fat jars (java -jar app.jar ...): builds a
 * NestedJarClassLoader over the jar it was started from and calls the Start-Class's main
 * with it as the context class loader, as Spring Boot's JarLauncher does.
 */
public final class BootLauncher {
    public static void main(String[] args) throws Throwable {
        Path jar = Path.of(BootLauncher.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        String start;
        try (JarFile f = new JarFile(jar.toFile())) {
            start = f.getManifest().getMainAttributes().getValue(new Attributes.Name("Start-Class"));
        }
        NestedJarClassLoader loader = new NestedJarClassLoader(jar, BootLauncher.class.getClassLoader());
        Thread.currentThread().setContextClassLoader(loader);
        try {
            Class.forName(start, true, loader).getMethod("main", String[].class).invoke(null, (Object) args);
        } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause(); // the application's own error, as if it had been started directly
        }
    }
}
