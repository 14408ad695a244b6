using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Reconciler.Consul;

/// <summary>The HTTP handler for <see cref="ConsulClientOptions"/>: a Unix socket for unix:// addresses, and TLS with a
/// private CA (CONSUL_CACERT/CONSUL_CAPATH), a client certificate, a server name to verify, or no verification.</summary>
public static class ConsulTransport
{
    public static SocketsHttpHandler CreateHandler(ConsulClientOptions options)
    {
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        if (options.Address.Scheme == "unix")
        {
            var socketPath = options.Address.AbsolutePath;
            handler.ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }
        if (options.Tls is { } tls) ConfigureTls(handler.SslOptions, tls);
        return handler;
    }

    /// <summary>http://localhost/ for a Unix socket (the host is not used), else the address itself.</summary>
    public static Uri BaseAddress(Uri address) => address.Scheme == "unix" ? new Uri("http://localhost/") : address;

    private static void ConfigureTls(SslClientAuthenticationOptions ssl, ConsulTls tls)
    {
        if (tls.ServerName is { } name) ssl.TargetHost = name;
        if (tls.ClientCert is { } cert && tls.ClientKey is { } key)
        {
            try
            {
                ssl.ClientCertificates = [X509Certificate2.CreateFromPemFile(cert, key)];
            }
            catch (Exception e) when (e is IOException or CryptographicException or UnauthorizedAccessException)
            {
                throw new ReconcilerException(FailureKind.EnvironmentFault,
                    $"CONSUL_CLIENT_CERT/CONSUL_CLIENT_KEY: cannot load the client certificate {cert} with key {key} ({e.Message}).");
            }
        }
        var roots = TrustedRoots(tls);
        if (!tls.Verify)
        {
            ssl.RemoteCertificateValidationCallback = (_, _, _, _) => true;   // CONSUL_HTTP_SSL_VERIFY=false, as the api client allows
            return;
        }
        if (roots.Count == 0 && tls.ServerName is null) return;   // the system's trust store and the URL's host name
        ssl.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
        {
            if (certificate is null) return false;
            var server = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            // Name: against CONSUL_TLS_SERVER_NAME when set (the agent may be reached by IP), else the platform's check.
            var nameOk = tls.ServerName is { } expected ? server.MatchesHostname(expected) : (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0;
            if (!nameOk) return false;
            if (roots.Count == 0) return (errors & ~SslPolicyErrors.RemoteCertificateNameMismatch) == SslPolicyErrors.None;
            using var custom = new X509Chain();
            custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            custom.ChainPolicy.CustomTrustStore.AddRange(roots);
            custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            if (chain is not null)
                foreach (var element in chain.ChainElements.Skip(1)) custom.ChainPolicy.ExtraStore.Add(element.Certificate);
            return custom.Build(server);
        };
    }

    private static X509Certificate2Collection TrustedRoots(ConsulTls tls)
    {
        var roots = new X509Certificate2Collection();
        var files = new List<(string Variable, string File)>();
        if (tls.CaFile is { } caFile) files.Add(("CONSUL_CACERT", caFile));
        if (tls.CaPath is { } caPath)
        {
            if (!Directory.Exists(caPath))
                throw new ReconcilerException(FailureKind.EnvironmentFault, $"CONSUL_CAPATH {caPath} is not a directory.");
            files.AddRange(Directory.EnumerateFiles(caPath).Order(StringComparer.Ordinal).Select(f => ("CONSUL_CAPATH", f)));
        }
        foreach (var (variable, file) in files)
        {
            try
            {
                var before = roots.Count;
                roots.ImportFromPemFile(file);
                if (roots.Count == before && variable == "CONSUL_CACERT")
                    throw new CryptographicException("no PEM certificate in it");
            }
            catch (Exception e) when (e is IOException or CryptographicException or UnauthorizedAccessException)
            {
                if (variable == "CONSUL_CACERT")
                    throw new ReconcilerException(FailureKind.EnvironmentFault, $"CONSUL_CACERT {file}: cannot read a CA certificate ({e.Message}).");
                // CONSUL_CAPATH: like the api client, files that are not certificates are skipped.
            }
        }
        return roots;
    }
}
