// The JMX client that read requests-and-jit.txt's counts: java Req.java <port>, after
// jcmd <kafka pid> ManagementAgent.start jmxremote.port=<port> jmxremote.rmi.port=<port> jmxremote.authenticate=false jmxremote.ssl=false
import javax.management.*;
import javax.management.remote.*;
import java.util.*;

public class Req {
  public static void main(String[] a) throws Exception {
    var url = new JMXServiceURL("service:jmx:rmi:///jndi/rmi://127.0.0.1:" + a[0] + "/jmxrmi");
    try (var c = JMXConnectorFactory.connect(url)) {
      var s = c.getMBeanServerConnection();
      var out = new TreeMap<String, Object>();
      for (var n : s.queryNames(new ObjectName("kafka.network:type=RequestMetrics,name=RequestsPerSec,*"), null)) {
        long count = ((Number) s.getAttribute(n, "Count")).longValue();
        out.merge(n.getKeyProperty("request"), count, (x, y) -> (Long) x + (Long) y);
      }
      out.forEach((k, v) -> System.out.println(k + " " + v));
    }
  }
}
