import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.RetryOneTime;

/**
 * Curator's InterProcessMutex driven from stdin, one command a line, for RecipeInteropTests:
 * "try MS" (acquire with a timeout), "acquire" (prints "waiting" first, then "acquired" when it holds),
 * "release", "nodes" (the participant nodes in lock order), "quit". Every answer is one line on stdout.
 */
public final class CuratorLockProbe {
    public static void main(String[] args) throws Exception {
        CuratorFramework client = CuratorFrameworkFactory.newClient(args[0], 20000, 15000, new RetryOneTime(200));
        client.start();
        if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
            System.out.println("not connected");
            System.exit(2);
        }
        InterProcessMutex mutex = new InterProcessMutex(client, args[1]);
        System.out.println("ready");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line; (line = in.readLine()) != null; ) {
            String[] words = line.trim().split(" ");
            switch (words[0]) {
                case "try":
                    boolean got = mutex.acquire(Long.parseLong(words[1]), TimeUnit.MILLISECONDS);
                    System.out.println(got ? "acquired" : "timed out");
                    break;
                case "acquire":
                    System.out.println("waiting");
                    mutex.acquire();
                    System.out.println("acquired");
                    break;
                case "release":
                    mutex.release();
                    System.out.println("released");
                    break;
                case "nodes":
                    System.out.println("nodes " + String.join(",", mutex.getParticipantNodes()));
                    break;
                case "quit":
                    client.close();
                    System.out.println("bye");
                    return;
                default:
                    System.out.println("unknown " + line);
            }
        }
    }
}
