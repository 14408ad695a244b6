using Reconciler.Cli;
using Reconciler.Consul;
using Reconciler.State.Consul;
using Reconciler.State.Sqlite;

namespace Reconciler.State;

/// <summary>Opens the state store a --state URL (or reconciler.yaml's <c>state:</c>) names. docs/state.md.</summary>
public static class StateStores
{
    public const string DefaultRelativePath = ".reconciler/state.db";

    public const string AcceptedForms =
        "sqlite:PATH (relative to the repo), consul://HOST:PORT/PREFIX, or consuls://HOST:PORT/PREFIX / https://HOST:PORT/PREFIX for TLS " +
        "(token from CONSUL_HTTP_TOKEN); empty means sqlite:" + DefaultRelativePath;

    /// <summary>null/empty: SQLite at REPO/.reconciler/state.db. Nothing is opened or created until the first call on the store.</summary>
    public static IStateStore Open(string? url, string repoRoot, TimeProvider time)
    {
        if (string.IsNullOrWhiteSpace(url))
            return new SqliteStateStore(Path.Combine(repoRoot, DefaultRelativePath), time);
        url = url.Trim();
        if (url.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            var path = url["sqlite:".Length..];
            if (path.StartsWith("//", StringComparison.Ordinal)) path = path[2..];   // tolerate sqlite://PATH
            if (path.Length == 0) throw Bad(url, "the sqlite form needs a path");
            return new SqliteStateStore(Path.IsPathRooted(path) ? path : Path.Combine(repoRoot, path), time);
        }
        var (scheme, rest) = SplitScheme(url);
        var http = scheme switch
        {
            "consul" or "http" => "http",
            "consuls" or "https" => "https",
            _ => throw Bad(url, $"unknown scheme '{scheme}'"),
        };
        if (!Uri.TryCreate($"{http}://{rest}", UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            throw Bad(url, "not a valid HOST:PORT/PREFIX");
        if (!string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment) || !string.IsNullOrEmpty(uri.UserInfo))
            throw Bad(url, "no user, query or fragment allowed (the token comes from CONSUL_HTTP_TOKEN)");
        var prefix = Uri.UnescapeDataString(uri.AbsolutePath).Trim('/');
        if (prefix.Length == 0) throw Bad(url, "a key prefix is required, e.g. consul://127.0.0.1:8500/reconciler");
        foreach (var segment in prefix.Split('/')) StateNames.Check("Consul key prefix segment", segment);
        var address = new Uri($"{uri.Scheme}://{uri.Authority}/");
        return new ConsulStateStore(new ConsulClient(ConsulClientOptions.FromEnvironment(address)), prefix, time);
    }

    private static (string Scheme, string Remainder) SplitScheme(string url)
    {
        var i = url.IndexOf("://", StringComparison.Ordinal);
        if (i <= 0) throw Bad(url, "no scheme");
        return (url[..i].ToLowerInvariant(), url[(i + 3)..]);
    }

    private static UserError Bad(string url, string why) => new($"invalid state store '{url}': {why}. Accepted: {AcceptedForms}.");
}
