import java.security.cert.X509Certificate;
import javax.net.ssl.X509KeyManager;
import javax.net.ssl.X509TrustManager;
import org.apache.zookeeper.common.X509Util;

/**
 * Loads stores with Apache ZooKeeper's own X509Util, for comparison. Arguments come
 * in fours: "key" or "trust", path, password ("-" for none), type ("-" for none).
 * Prints one line per case: "OK <detail>" or "ERR <exception chain>". A key store
 * counts as OK only if it holds an RSA or EC key with a chain (what ZooKeeper's
 * default cipher suites can use).
 */
public class Oracle {
    public static void main(String[] args) {
        for (int i = 0; i + 3 < args.length; i += 4) {
            String password = args[i + 2].equals("-") ? null : args[i + 2];
            String type = args[i + 3].equals("-") ? null : args[i + 3];
            try {
                System.out.println(args[i].equals("key") ? key(args[i + 1], password, type) : trust(args[i + 1], password, type));
            } catch (Throwable t) {
                StringBuilder chain = new StringBuilder("ERR");
                for (Throwable c = t; c != null; c = c.getCause()) {
                    chain.append(" | ").append(c.getClass().getSimpleName()).append(": ").append(c.getMessage());
                }
                System.out.println(chain.toString().replace('\n', ' '));
            }
        }
    }

    static String key(String path, String password, String type) throws Exception {
        X509KeyManager km = X509Util.createKeyManager(path, password, type);
        for (String keyType : new String[] {"RSA", "EC"}) {
            String[] aliases = km.getServerAliases(keyType, null);
            if (aliases != null) {
                for (String alias : aliases) {
                    X509Certificate[] chain = km.getCertificateChain(alias);
                    if (chain != null && km.getPrivateKey(alias) != null) {
                        return "OK " + keyType + " key, chain of " + chain.length;
                    }
                }
            }
        }
        return "ERR no RSA or EC key with a certificate chain";
    }

    static String trust(String path, String password, String type) throws Exception {
        X509TrustManager tm = X509Util.createTrustManager(path, password, type, false, false, true, true);
        return "OK " + tm.getAcceptedIssuers().length + " trusted";
    }
}
