import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;

/**
 * Curator's x-discovery ServiceDiscovery driven from stdin, one command a line, for CuratorDiscoveryInteropTests:
 * "register NAME ID PORT ZONE" (address 127.0.0.1, payload {zone: ZONE}), "unregister NAME ID",
 * "list NAME" (the instances as id@address:port/zone, sorted), "quit". Every answer is one line on stdout.
 */
public final class CuratorDiscoveryProbe {
    @SuppressWarnings({"unchecked", "rawtypes"})
    public static void main(String[] args) throws Exception {
        CuratorFramework client = CuratorFrameworkFactory.newClient(args[0], 20000, 15000, new RetryOneTime(200));
        client.start();
        if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
            System.out.println("not connected");
            System.exit(2);
        }
        ServiceDiscovery<Map> discovery = ServiceDiscoveryBuilder.builder(Map.class).client(client).basePath(args[1]).build();
        discovery.start();
        Map<String, ServiceInstance<Map>> mine = new HashMap<>();
        System.out.println("ready");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line; (line = in.readLine()) != null; ) {
            String[] words = line.trim().split(" ");
            switch (words[0]) {
                case "register": {
                    Map<String, String> payload = new HashMap<>();
                    payload.put("zone", words[4]);
                    ServiceInstance<Map> instance = ServiceInstance.<Map>builder()
                        .name(words[1]).id(words[2]).address("127.0.0.1").port(Integer.parseInt(words[3])).payload(payload).build();
                    discovery.registerService(instance);
                    mine.put(words[2], instance);
                    System.out.println("registered " + words[2]);
                    break;
                }
                case "unregister":
                    discovery.unregisterService(mine.remove(words[2]));
                    System.out.println("unregistered " + words[2]);
                    break;
                case "list": {
                    List<String> seen = new ArrayList<>();
                    for (ServiceInstance<Map> instance : discovery.queryForInstances(words[1])) {
                        Object zone = instance.getPayload() == null ? null : instance.getPayload().get("zone");
                        seen.add(instance.getId() + "@" + instance.getAddress() + ":" + instance.getPort() + "/" + zone);
                    }
                    Collections.sort(seen);
                    System.out.println("instances " + String.join(",", seen));
                    break;
                }
                case "quit":
                    discovery.close();
                    client.close();
                    System.out.println("bye");
                    return;
                default:
                    System.out.println("unknown " + line);
            }
        }
    }
}
