namespace Reconciler.Consul;

/// <summary>TLS towards the agent, as HashiCorp's api client takes it (CONSUL_CACERT, CONSUL_CAPATH, CONSUL_CLIENT_CERT,
/// CONSUL_CLIENT_KEY, CONSUL_TLS_SERVER_NAME, CONSUL_HTTP_SSL_VERIFY). Files are PEM.</summary>
public sealed record ConsulTls(string? CaFile = null, string? CaPath = null, string? ClientCert = null, string? ClientKey = null,
    string? ServerName = null, bool Verify = true);

/// <summary>How to reach one Consul agent. <see cref="Address"/> is http://, https:// or unix:///path/to/socket.</summary>
public sealed record ConsulClientOptions(Uri Address, string? Token = null)
{
    /// <summary>Per attempt, for non-blocking requests. A blocking query adds its wait time (plus wait/16, Consul's jitter).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public int MaxRetries { get; init; } = 3;
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(200);
    /// <summary>Longest wait between retries, also for a server's Retry-After.</summary>
    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Network timeouts and backoff run on this clock. Keep it real time: a fake clock would stall retries.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
    public HttpMessageHandler? Handler { get; init; }
    /// <summary>"user:password" for HTTP basic auth in front of the agent (CONSUL_HTTP_AUTH).</summary>
    public string? BasicAuth { get; init; }
    /// <summary>Consul Enterprise namespace and admin partition (CONSUL_NAMESPACE, CONSUL_PARTITION); null = default.</summary>
    public string? Namespace { get; init; }
    public string? Partition { get; init; }
    public ConsulTls? Tls { get; init; }

    /// <summary>The options HashiCorp's api client (api/api.go DefaultConfig) would take from the process environment.</summary>
    public static ConsulClientOptions FromEnvironment(Uri address) => FromEnvironment(address, Environment.GetEnvironmentVariable);

    /// <summary>As api/api.go reads them: CONSUL_HTTP_ADDR (when <paramref name="address"/> is null; HOST:PORT, http://,
    /// https:// or unix://), CONSUL_HTTP_SSL (https for an address without a scheme), CONSUL_HTTP_TOKEN_FILE (wins over
    /// CONSUL_HTTP_TOKEN, as in api.NewClient), CONSUL_HTTP_TOKEN, CONSUL_HTTP_AUTH, CONSUL_CACERT, CONSUL_CAPATH,
    /// CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY, CONSUL_TLS_SERVER_NAME, CONSUL_HTTP_SSL_VERIFY, CONSUL_NAMESPACE,
    /// CONSUL_PARTITION. A value that cannot be used is an <see cref="FailureKind.EnvironmentFault"/> naming the variable.</summary>
    public static ConsulClientOptions FromEnvironment(Uri? address, Func<string, string?> env)
    {
        string? Var(string name) => env(name) is { Length: > 0 } v ? v.Trim() : null;
        bool Flag(string name, bool otherwise) => Var(name) switch
        {
            null => otherwise,
            "1" or "true" or "TRUE" or "True" or "t" or "T" => true,
            "0" or "false" or "FALSE" or "False" or "f" or "F" => false,
            var other => throw Bad(name, $"'{other}' is not a boolean (use true or false)"),
        };
        address ??= ParseAddress(Var("CONSUL_HTTP_ADDR") ?? throw Bad("CONSUL_HTTP_ADDR", "is not set"), Flag("CONSUL_HTTP_SSL", false));
        var token = Var("CONSUL_HTTP_TOKEN");
        if (Var("CONSUL_HTTP_TOKEN_FILE") is { } file)
        {
            try { token = File.ReadAllText(file).Trim() is { Length: > 0 } t ? t : token; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw Bad("CONSUL_HTTP_TOKEN_FILE", $"cannot read {file} ({e.Message})"); }
        }
        var tls = new ConsulTls(Var("CONSUL_CACERT"), Var("CONSUL_CAPATH"), Var("CONSUL_CLIENT_CERT"), Var("CONSUL_CLIENT_KEY"),
            Var("CONSUL_TLS_SERVER_NAME"), Flag("CONSUL_HTTP_SSL_VERIFY", true));
        if ((tls.ClientCert is null) != (tls.ClientKey is null))
            throw Bad(tls.ClientCert is null ? "CONSUL_CLIENT_CERT" : "CONSUL_CLIENT_KEY", "must be set together with " + (tls.ClientCert is null ? "CONSUL_CLIENT_KEY" : "CONSUL_CLIENT_CERT"));
        return new ConsulClientOptions(address, token)
        {
            BasicAuth = Var("CONSUL_HTTP_AUTH"),
            Namespace = Var("CONSUL_NAMESPACE"),
            Partition = Var("CONSUL_PARTITION"),
            Tls = tls == new ConsulTls() ? null : tls,
        };
    }

    /// <summary>HOST:PORT (http, or https with <paramref name="ssl"/>), http://..., https://... or unix:///path.</summary>
    public static Uri ParseAddress(string text, bool ssl)
    {
        if (text.StartsWith("unix://", StringComparison.OrdinalIgnoreCase))
            return text.Length > "unix://".Length && text["unix://".Length] == '/'
                ? new Uri("unix://" + text["unix://".Length..])
                : throw Bad("CONSUL_HTTP_ADDR", $"'{text}' needs an absolute socket path: unix:///path/to/consul.sock");
        var withScheme = text.Contains("://", StringComparison.Ordinal) ? text : (ssl ? "https://" : "http://") + text;
        return Uri.TryCreate(withScheme.TrimEnd('/') + "/", UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.Host.Length > 0
            ? uri
            : throw Bad("CONSUL_HTTP_ADDR", $"'{text}' is not an address: use HOST:PORT (e.g. 127.0.0.1:8500), an http(s):// URL or unix:///path");
    }

    private static ReconcilerException Bad(string variable, string why) => new(FailureKind.EnvironmentFault, $"{variable} {why}.");
}
