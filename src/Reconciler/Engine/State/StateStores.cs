using Reconciler.Consul;
using Reconciler.State.Consul;
using Reconciler.State.Sqlite;

namespace Reconciler.State;

/// <summary>Which state store a command uses (<see cref="Locate(string?, Func{string?}, string)"/>, the one rule) and
/// opening the store a URL names. docs/state.md.</summary>
public static class StateStores
{
    public const string DefaultRelativePath = ".reconciler/state.db";

    public const string AcceptedForms =
        "sqlite:PATH (relative to the repo), consul://HOST:PORT/PREFIX, or consuls://HOST:PORT/PREFIX / https://HOST:PORT/PREFIX for TLS, " +
        "or consul:///PREFIX for the agent CONSUL_HTTP_ADDR names (also unix://) (token from CONSUL_HTTP_TOKEN_FILE or CONSUL_HTTP_TOKEN); " +
        "empty means sqlite:" + DefaultRelativePath;

    /// <summary>The store <paramref name="url"/> names as given (null/empty: SQLite at REPO/.reconciler/state.db).
    /// Nothing is opened or created until the first call on the store.</summary>
    public static IStateStore Open(string? url, string repoRoot, TimeProvider time) => Open(url, repoRoot, time, Environment.GetEnvironmentVariable);

    /// <summary>As <see cref="Open(string?, string, TimeProvider)"/> with the environment the CONSUL_* variables come from.</summary>
    internal static IStateStore Open(string? url, string repoRoot, TimeProvider time, Func<string, string?> env)
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
        if (rest.StartsWith('/') && scheme == "consul")
        {
            // consul:///PREFIX: the agent is the one CONSUL_HTTP_ADDR names, as for every Consul tool (unix:// and https:// included).
            var agentPrefix = CheckPrefix(url, Uri.UnescapeDataString(rest).Trim('/'));
            return new ConsulStateStore(new ConsulClient(ConsulClientOptions.FromEnvironment(null, env)), agentPrefix, time);
        }
        if (!Uri.TryCreate($"{http}://{rest}", UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            throw Bad(url, "not a valid HOST:PORT/PREFIX");
        if (!string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment) || !string.IsNullOrEmpty(uri.UserInfo))
            throw Bad(url, "no user, query or fragment allowed (the token comes from CONSUL_HTTP_TOKEN)");
        // The prefix from the text as written: Uri would silently resolve "a/../b" to "b".
        var slash = rest.IndexOf('/');
        var prefix = CheckPrefix(url, slash < 0 ? "" : Uri.UnescapeDataString(rest[(slash + 1)..]).Trim('/'));
        var address = new Uri($"{uri.Scheme}://{uri.Authority}/");
        return new ConsulStateStore(new ConsulClient(ConsulClientOptions.FromEnvironment(address, env)), prefix, time);
    }

    private static string CheckPrefix(string url, string prefix)
    {
        if (prefix.Length == 0) throw Bad(url, "a key prefix is required, e.g. consul://127.0.0.1:8500/reconciler");
        foreach (var segment in prefix.Split('/'))
        {
            try { StateNames.Check("Consul key prefix segment", segment); }
            catch (ReconcilerException e) when (e.Kind == FailureKind.InvalidInput) { throw Bad(url, e.Message.TrimEnd('.')); }
        }
        return prefix;
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

    /// <summary>
    /// The one rule for which store a command uses (docs/state.md): <paramref name="cliUrl"/> (--state), else
    /// $RECONCILER_STATE, else the repo's <c>state:</c> (<paramref name="repoStateUrl"/>, asked for only when neither
    /// is set), else the default SQLite file under <paramref name="repoRoot"/>.
    /// </summary>
    public static StoreLocation Locate(string? cliUrl, Func<string?> repoStateUrl, string repoRoot) =>
        new(!string.IsNullOrWhiteSpace(cliUrl) ? cliUrl
            : Environment.GetEnvironmentVariable("RECONCILER_STATE") is { Length: > 0 } fromEnv ? fromEnv
            : repoStateUrl(),
            Path.GetFullPath(repoRoot));

    /// <summary><see cref="Locate(string?, Func{string?}, string)"/> for a command that loaded the repo: <c>state:</c>
    /// of the commit it loaded.</summary>
    public static StoreLocation Locate(string? cliUrl, string? repoStateUrl, string repoRoot) => Locate(cliUrl, () => repoStateUrl, repoRoot);

    /// <summary><see cref="Locate(string?, Func{string?}, string)"/> for a command that does not load the repo: only
    /// <c>state:</c> of REPO/reconciler.yaml in the working tree is read (<see cref="StateKeyOf"/>), so a broken service
    /// file elsewhere does not keep anyone from inspecting or unlocking an environment.</summary>
    public static StoreLocation Locate(string? cliUrl, string repoRoot) => Locate(cliUrl, () => StateKeyOf(repoRoot), repoRoot);

    /// <summary>Opens the store <see cref="Locate(string?, string?, string)"/> chooses for a command that loaded the repo.</summary>
    public static IStateStore Open(string? cliUrl, string? repoStateUrl, string repoRoot, TimeProvider time) =>
        Locate(cliUrl, repoStateUrl, repoRoot).Open(time);

    /// <summary><c>state:</c> in REPO/reconciler.yaml of the working tree, reading only that key; null when the file
    /// or the key is absent.</summary>
    public static string? StateKeyOf(string repoRoot)
    {
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

/// <summary>The store a command uses: its URL (null: the default SQLite file) and the repo that relative SQLite paths
/// are relative to.</summary>
public sealed record StoreLocation(string? Url, string RepoRoot)
{
    /// <summary>The SQLite file, or null for other stores.</summary>
    public string? SqliteFile => StateStores.SqlitePath(Url, RepoRoot);

    /// <summary>False for a SQLite file that does not exist yet: nothing was ever recorded, and a read-only command
    /// must not create it.</summary>
    public bool Exists => SqliteFile is not { } file || File.Exists(file);

    public IStateStore Open(TimeProvider time) => StateStores.Open(Url, RepoRoot, time);
}
