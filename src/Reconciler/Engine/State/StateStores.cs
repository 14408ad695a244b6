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
        if (string.IsNullOrWhiteSpace(url) || url.Trim().StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
            return new SqliteStateStore(SqlitePath(url, repoRoot) ?? throw Bad(url!.Trim(), "the sqlite form needs a path"), time);
        url = url.Trim();
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
        // The prefix from the text as written: Uri would silently resolve "a/../b" to "b".
        var slash = rest.IndexOf('/');
        var prefix = slash < 0 ? "" : Uri.UnescapeDataString(rest[(slash + 1)..]).Trim('/');
        if (prefix.Length == 0) throw Bad(url, "a key prefix is required, e.g. consul://127.0.0.1:8500/reconciler");
        foreach (var segment in prefix.Split('/'))
        {
            try { StateNames.Check("Consul key prefix segment", segment); }
            catch (ReconcilerException e) when (e.Kind == FailureKind.InvalidInput) { throw Bad(url, e.Message.TrimEnd('.')); }
        }
        var address = new Uri($"{uri.Scheme}://{uri.Authority}/");
        return new ConsulStateStore(new ConsulClient(ConsulClientOptions.FromEnvironment(address)), prefix, time);
    }

    /// <summary>The database file a SQLite URL names (null for other stores), so read-only commands can tell
    /// "no state yet" from an empty store without creating the file.</summary>
    public static string? SqlitePath(string? url, string repoRoot)
    {
        if (string.IsNullOrWhiteSpace(url)) return Path.GetFullPath(Path.Combine(repoRoot, DefaultRelativePath));
        url = url.Trim();
        if (!url.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase)) return null;
        var path = url["sqlite:".Length..];
        if (path.StartsWith("//", StringComparison.Ordinal)) path = path[2..];   // tolerate sqlite://PATH
        return path.Length == 0 ? null : Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(repoRoot, path));
    }

    /// <summary>Which store a command that has loaded the repo uses: <paramref name="explicitUrl"/> (--state), else
    /// $RECONCILER_STATE, else <c>state:</c> of the commit it loaded (null: the SQLite default).</summary>
    public static string? UrlFor(string? explicitUrl, string? repoStateUrl) =>
        !string.IsNullOrWhiteSpace(explicitUrl) ? explicitUrl
        : Environment.GetEnvironmentVariable("RECONCILER_STATE") is { Length: > 0 } fromEnv ? fromEnv
        : repoStateUrl;

    /// <summary>Which store a command that does not load the repo uses: <paramref name="explicitUrl"/> (--state), else
    /// $RECONCILER_STATE, else <c>state:</c> in REPO/reconciler.yaml (read from the working tree: only that one key, so a broken service file elsewhere
    /// does not keep anyone from inspecting or unlocking an environment), else null (the SQLite default).</summary>
    public static string? ResolveUrl(string? explicitUrl, string repoRoot)
    {
        if (UrlFor(explicitUrl, null) is { } given) return given;
        var file = Path.Combine(repoRoot, "reconciler.yaml");
        if (!File.Exists(file)) return null;
        try
        {
            var yaml = new YamlDotNet.RepresentationModel.YamlStream();
            using (var reader = new StreamReader(file)) yaml.Load(reader);
            if (yaml.Documents.Count == 0 || yaml.Documents[0].RootNode is not YamlDotNet.RepresentationModel.YamlMappingNode root) return null;
            foreach (var (key, value) in root.Children)
            {
                if (key is YamlDotNet.RepresentationModel.YamlScalarNode { Value: "state" })
                    return value is YamlDotNet.RepresentationModel.YamlScalarNode { Value: { Length: > 0 } url }
                        ? url
                        : throw new ReconcilerException(FailureKind.InvalidInput, $"{file}:{value.Start.Line}:{value.Start.Column}: 'state' must be a store URL: {AcceptedForms}.");
            }
            return null;
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new ReconcilerException(FailureKind.InvalidInput, $"{file}:{e.Start.Line}:{e.Start.Column}: cannot read 'state:' ({e.Message}). Fix the file or pass --state.");
        }
    }

    private static (string Scheme, string Remainder) SplitScheme(string url)
    {
        var i = url.IndexOf("://", StringComparison.Ordinal);
        if (i <= 0) throw Bad(url, "no scheme");
        return (url[..i].ToLowerInvariant(), url[(i + 3)..]);
    }

    private static ReconcilerException Bad(string url, string why) => new(FailureKind.InvalidInput, $"invalid state store '{url}': {why}. Accepted: {AcceptedForms}.");
}
