using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Reconciler.Consul;
using Reconciler.Testing;
using Xunit;

namespace Reconciler.Engine.Tests.State;

/// <summary>
/// Reaching the agent as HashiCorp's api client does (api/api.go): every CONSUL_* variable, a Unix socket, and TLS with
/// a private CA and client certificates for real — a loopback HTTPS test server with a CA generated here and
/// verify_incoming (client certificates required and checked against that CA).
/// </summary>
public sealed class ConsulConnectionTests : IDisposable
{
    private readonly TempDir _dir = new();
    private static CancellationToken Ct => CancellationToken.None;

    public void Dispose() => _dir.Dispose();

    private static Func<string, string?> Env(params (string Name, string Value)[] vars) =>
        name => vars.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void Every_variable_of_the_api_client_is_read()
    {
        File.WriteAllText(_dir.Combine("token"), "  from-file\n");
        var o = ConsulClientOptions.FromEnvironment(null, Env(
            ("CONSUL_HTTP_ADDR", "consul.internal:8501"), ("CONSUL_HTTP_SSL", "true"), ("CONSUL_HTTP_TOKEN", "from-env"),
            ("CONSUL_HTTP_TOKEN_FILE", _dir.Combine("token")), ("CONSUL_HTTP_AUTH", "ops:pw"), ("CONSUL_CACERT", "/ca.pem"),
            ("CONSUL_CAPATH", "/cas"), ("CONSUL_CLIENT_CERT", "/c.pem"), ("CONSUL_CLIENT_KEY", "/k.pem"), ("CONSUL_TLS_SERVER_NAME", "server.dc1.consul"),
            ("CONSUL_HTTP_SSL_VERIFY", "false"), ("CONSUL_NAMESPACE", "team-a"), ("CONSUL_PARTITION", "part-1")));
        Assert.Equal(new Uri("https://consul.internal:8501/"), o.Address);
        Assert.Equal("from-file", o.Token);   // api.NewClient: the token file wins over CONSUL_HTTP_TOKEN
        Assert.Equal("ops:pw", o.BasicAuth);
        Assert.Equal(new ConsulTls("/ca.pem", "/cas", "/c.pem", "/k.pem", "server.dc1.consul", Verify: false), o.Tls);
        Assert.Equal("team-a", o.Namespace);
        Assert.Equal("part-1", o.Partition);

        Assert.Equal(new Uri("http://10.0.0.1:8500/"), ConsulClientOptions.FromEnvironment(null, Env(("CONSUL_HTTP_ADDR", "http://10.0.0.1:8500"), ("CONSUL_HTTP_SSL", "true"))).Address);
        Assert.Equal("unix:///run/consul/http.sock", ConsulClientOptions.FromEnvironment(null, Env(("CONSUL_HTTP_ADDR", "unix:///run/consul/http.sock"))).Address.ToString());
        Assert.Null(ConsulClientOptions.FromEnvironment(new Uri("http://127.0.0.1:8500/"), Env()).Tls);

        foreach (var (vars, names) in new[]
                 {
                     (Env(("CONSUL_HTTP_ADDR", "a:1"), ("CONSUL_HTTP_SSL_VERIFY", "maybe")), "CONSUL_HTTP_SSL_VERIFY"),
                     (Env(("CONSUL_HTTP_ADDR", "a:1"), ("CONSUL_CLIENT_CERT", "/c.pem")), "CONSUL_CLIENT_KEY"),
                     (Env(("CONSUL_HTTP_ADDR", "a:1"), ("CONSUL_HTTP_TOKEN_FILE", _dir.Combine("missing"))), "CONSUL_HTTP_TOKEN_FILE"),
                     (Env(("CONSUL_HTTP_ADDR", "unix://relative.sock")), "CONSUL_HTTP_ADDR"),
                     (Env(), "CONSUL_HTTP_ADDR"),
                 })
        {
            var e = Assert.Throws<ReconcilerException>(() => ConsulClientOptions.FromEnvironment(null, vars));
            Assert.Equal(FailureKind.EnvironmentFault, e.Kind);
            Assert.Contains(names, e.Message);
        }
    }

    [Fact]
    public async Task Namespace_partition_and_basic_auth_go_with_every_request()
    {
        await using var server = await ConsulTestServer.StartAsync(TimeProvider.System);
        using var client = new ConsulClient(new ConsulClientOptions(server.Address, "t") { Namespace = "team-a", Partition = "p1", BasicAuth = "ops:pw" });
        await client.PutAsync("ns/key", [1], ct: Ct);
        await client.TxnAsync([TxnOp.Get("ns/key")], Ct);
        Assert.All(server.Log, r => Assert.Contains("ns=team-a&partition=p1", r.Request));
        Assert.All(server.Log, r => Assert.Equal("Basic " + Convert.ToBase64String("ops:pw"u8.ToArray()), r.Authorization));
        Assert.Contains("\"Namespace\":\"team-a\"", System.Text.Encoding.UTF8.GetString(client.TxnBody([TxnOp.Get("ns/key")])));
    }

    [Fact]
    public async Task A_unix_socket_address_reaches_the_agent()
    {
        var socket = _dir.Combine("consul.sock");
        await using var server = await ConsulTestServer.StartAsync(TimeProvider.System, unixSocket: socket);
        using var client = new ConsulClient(ConsulClientOptions.FromEnvironment(null, Env(("CONSUL_HTTP_ADDR", "unix://" + socket))));
        Assert.True(await client.PutAsync("sock/key", "v"u8.ToArray(), ct: Ct));
        Assert.Equal("v", (await client.GetAsync("sock/key", ct: Ct)).Value!.ValueText);
        Assert.Equal("unix://" + socket, client.Address);
    }

    [Fact]
    public async Task Tls_with_a_private_ca_a_server_name_and_a_client_certificate_works_and_each_missing_part_is_refused()
    {
        using var ca = Pki.CreateCa();
        using var serverCert = Pki.Issue(ca, "consul.test", serverAuth: true);   // no IP in it: only the server name verifies
        using var clientCert = Pki.Issue(ca, "reconciler", serverAuth: false);
        File.WriteAllText(_dir.Combine("ca.pem"), ca.ExportCertificatePem());
        Directory.CreateDirectory(_dir.Combine("cas"));
        File.WriteAllText(_dir.Combine("cas", "ca.pem"), ca.ExportCertificatePem());
        File.WriteAllText(_dir.Combine("cas", "README"), "not a certificate");
        File.WriteAllText(_dir.Combine("client.pem"), clientCert.ExportCertificatePem());
        File.WriteAllText(_dir.Combine("client-key.pem"), clientCert.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());

        await using var server = await ConsulTestServer.StartAsync(TimeProvider.System, https: h =>
        {
            h.ServerCertificate = serverCert;
            h.ClientCertificateMode = ClientCertificateMode.RequireCertificate;   // Consul's verify_incoming
            h.ClientCertificateValidation = (cert, _, _) => Pki.ChainsTo(cert, ca);
        });
        var address = server.Address.ToString();
        async Task<bool> Works(params (string, string)[] vars)
        {
            using var client = new ConsulClient(ConsulClientOptions.FromEnvironment(null, Env([("CONSUL_HTTP_ADDR", address), .. vars])) with { MaxRetries = 0 });
            try { return await client.PutAsync("tls/key", "v"u8.ToArray(), ct: Ct); }
            catch (ConsulException e) when (e.Kind == ConsulErrorKind.Unreachable) { Assert.Contains("CONSUL_CACERT", e.Message); return false; }
        }
        var clientAuth = new[] { ("CONSUL_CLIENT_CERT", _dir.Combine("client.pem")), ("CONSUL_CLIENT_KEY", _dir.Combine("client-key.pem")) };
        var name = ("CONSUL_TLS_SERVER_NAME", "consul.test");

        Assert.True(await Works([("CONSUL_CACERT", _dir.Combine("ca.pem")), name, .. clientAuth]));
        Assert.True(await Works([("CONSUL_CAPATH", _dir.Combine("cas")), name, .. clientAuth]));
        Assert.True(await Works([("CONSUL_HTTP_SSL_VERIFY", "false"), .. clientAuth]));
        Assert.False(await Works([name, .. clientAuth]));                                              // the system trust store does not know the CA
        Assert.False(await Works([("CONSUL_CACERT", _dir.Combine("ca.pem")), .. clientAuth]));           // 127.0.0.1 is not in the certificate
        Assert.False(await Works([("CONSUL_CACERT", _dir.Combine("ca.pem")), ("CONSUL_TLS_SERVER_NAME", "other.test"), .. clientAuth]));
        Assert.False(await Works(("CONSUL_CACERT", _dir.Combine("ca.pem")), name));                     // verify_incoming: no client certificate
    }

    /// <summary>A private CA and certificates it issues, made here with CertificateRequest.</summary>
    private static class Pki
    {
        public static X509Certificate2 CreateCa()
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=Reconciler Test CA", key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
            return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        }

        public static X509Certificate2 Issue(X509Certificate2 ca, string name, bool serverAuth)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
                [new Oid(serverAuth ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName(name);
            request.CertificateExtensions.Add(san.Build());
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
            var serial = RandomNumberGenerator.GetBytes(12);
            using var issued = request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(50), serial);
            using var withKey = issued.CopyWithPrivateKey(key);
            // Round-trip through PKCS#12 so that SslStream on every platform can use the private key.
            return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null, X509KeyStorageFlags.Exportable);
        }

        public static bool ChainsTo(X509Certificate2 cert, X509Certificate2 ca)
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(cert);
        }
    }
}
