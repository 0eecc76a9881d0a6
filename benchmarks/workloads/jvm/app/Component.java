package app;

import java.util.Map;

/** A request handler the application discovers at start-up, as a DI container finds its beans. */
public interface Component {
    String handle(Map<String, String> request);
}
