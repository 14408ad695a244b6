using System.Collections.Immutable;
using System.Globalization;
using System.Text.RegularExpressions;
using Reconciler.Schema.Model;

namespace Reconciler.Consul;

/// <summary>A catalog host group that cannot be resolved now. <see cref="Location"/> is the group in its environment file;
/// <see cref="RuleId"/> names the finding as validate reports it (catalog.unreachable, catalog.empty, catalog.host).</summary>
public sealed class HostCatalogException(FailureKind kind, string ruleId, SourceLocation? location, string message)
    : ReconcilerException(kind, (location is null ? "" : location + ": ") + message)
{
    public string RuleId { get; } = ruleId;
    public SourceLocation? Location { get; } = location;
    /// <summary>The message without the location.</summary>
    public string Reason { get; } = message;
}

/// <summary>
/// Resolves host groups written as <c>consul: { service, tag, datacenter, passingOnly, knownHosts }</c> into the same
/// <see cref="HostSpec"/> list a static group holds, at plan time (the schema layer does no I/O). One host per node that
/// runs an instance: its name is the node name, its address the service address (else the node's), its region node meta
/// <c>region</c> (else the datacenter), its SSH user, port and host key node meta <c>ssh-user</c>, <c>ssh-port</c> and
/// <c>ssh-host-key</c> (else <c>deploy</c>, 22, and the group's pinned known_hosts file), and its vars every node meta
/// entry whose key is a variable name. The group also records the answer's X-Consul-Index for the plan.
/// </summary>
public sealed partial class HostCatalog(ConsulClient? client, Func<string, string?> readRepoFile)
{
    public const string RegionMeta = "region", UserMeta = "ssh-user", PortMeta = "ssh-port", HostKeyMeta = "ssh-host-key";
    // A static host's defaults (docs/format.md, environments).
    private const string DefaultUser = "deploy";
    private const int DefaultSshPort = 22;

    public static bool Uses(EnvironmentSpec environment) => environment.HostGroups.Values.Any(g => g.Catalog is not null);

    /// <summary><paramref name="environment"/> with every catalog group's hosts filled in; static groups as they are.</summary>
    public async Task<EnvironmentSpec> ResolveAsync(EnvironmentSpec environment, CancellationToken ct)
    {
        if (!Uses(environment)) return environment;
        var groups = environment.HostGroups.ToBuilder();
        foreach (var (name, group) in environment.HostGroups)
            if (group.Catalog is not null) groups[name] = await ResolveGroupAsync(group, ct);
        return environment with { HostGroups = groups.ToImmutable() };
    }

    /// <summary>The environment's catalog groups resolved one by one; a group that cannot be resolved gives its failure
    /// instead (validate reports each at its own place).</summary>
    public async Task<IReadOnlyList<HostCatalogException>> ProblemsAsync(EnvironmentSpec environment, CancellationToken ct)
    {
        var problems = new List<HostCatalogException>();
        foreach (var group in environment.HostGroups.Values.Where(g => g.Catalog is not null))
        {
            try { await ResolveGroupAsync(group, ct); }
            catch (HostCatalogException e) { problems.Add(e); }
        }
        return problems;
    }

    private async Task<HostGroup> ResolveGroupAsync(HostGroup group, CancellationToken ct)
    {
        var source = group.Catalog!;
        var what = Describe(group.Name, source);
        if (client is null)
            throw new HostCatalogException(FailureKind.EnvironmentFault, "catalog.unreachable", group.Location,
                $"{what} comes from the Consul catalog, but CONSUL_HTTP_ADDR is not set; set it (and CONSUL_HTTP_TOKEN if ACLs are on) to the agent to read the hosts from");
        ConsulResult<IReadOnlyList<CatalogInstance>> answer;
        try
        {
            answer = await client.ServiceInstancesAsync(source.Service, source.Tag, source.Datacenter, source.PassingOnly, ct);
        }
        catch (ConsulException e)
        {
            throw new HostCatalogException(FailureKind.EnvironmentFault, "catalog.unreachable", group.Location,
                $"{what}: cannot read the Consul catalog ({e.Message}); check that the agent is up and CONSUL_HTTP_ADDR/CONSUL_HTTP_TOKEN point at it, then plan again");
        }
        if (answer.Value.Count == 0)
            throw new HostCatalogException(FailureKind.EnvironmentFault, "catalog.empty", group.Location,
                $"{what}: the Consul catalog lists no {(source.PassingOnly ? "passing " : "")}instance of it, and a group without hosts would take its services off every host, so nothing is planned; " +
                "register the service (or fix service, tag or datacenter here), or wait until its checks pass");
        var knownHosts = source.KnownHosts is null ? null : KnownHosts(group, source.KnownHosts);
        var hosts = ImmutableArray.CreateBuilder<HostSpec>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var instance in answer.Value)
            if (seen.Add(instance.Node)) hosts.Add(ToHost(group, what, instance, knownHosts));
        return group with { Hosts = hosts.ToImmutable(), CatalogIndex = answer.Index };
    }

    private static HostSpec ToHost(HostGroup group, string what, CatalogInstance i, IReadOnlyList<KnownHostLine>? knownHosts)
    {
        HostCatalogException Bad(string problem) => new(FailureKind.EnvironmentFault, "catalog.host", group.Location,
            $"{what}: node '{i.Node}' {problem}; fix its registration or node meta in Consul");
        if (!HostName().IsMatch(i.Node))
            throw Bad("has a name reconciler cannot use as a host name (lowercase letters, digits and '-', starting with a letter, at most 63 characters)");
        if (!Address().IsMatch(i.Address))
            throw Bad($"has address '{i.Address}', which is not a hostname or an IP address");
        var meta = i.NodeMeta;
        var region = meta.GetValueOrDefault(RegionMeta) is { Length: > 0 } r ? r : i.Datacenter is { Length: > 0 } dc ? dc : null;
        if (region is not null && !HostName().IsMatch(region))
            throw Bad($"is in region '{region}' (node meta '{RegionMeta}' or its datacenter), which is not a region name (lowercase letters, digits and '-')");
        var user = meta.GetValueOrDefault(UserMeta) ?? DefaultUser;
        if (!UserName().IsMatch(user))
            throw Bad($"has node meta '{UserMeta}' = '{user}', which is not a Unix user name");
        var port = DefaultSshPort;
        if (meta.GetValueOrDefault(PortMeta) is { } portText
            && !(int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535))
            throw Bad($"has node meta '{PortMeta}' = '{portText}', which is not a port from 1 to 65535");
        var hostKey = meta.GetValueOrDefault(HostKeyMeta);
        if (hostKey is not null && !HostKey().IsMatch(hostKey))
            throw Bad($"has node meta '{HostKeyMeta}' that is not a public key 'ssh-ed25519 AAAA...' or a fingerprint 'SHA256:...'");
        hostKey ??= knownHosts?.FirstOrDefault(k => k.Matches(i.Node, i.Address, port))?.Key;
        var vars = meta.Where(m => VarName().IsMatch(m.Key) && !m.Value.Any(char.IsControl))
            .ToImmutableSortedDictionary(m => m.Key, m => m.Value, StringComparer.Ordinal);
        return new HostSpec(i.Node, i.Address, port, user, hostKey, region, vars);
    }

    private List<KnownHostLine> KnownHosts(HostGroup group, string path)
    {
        string? text;
        try { text = readRepoFile(path); }
        catch (IOException e) { throw new HostCatalogException(FailureKind.InvalidInput, "catalog.known-hosts", group.Location, $"host group '{group.Name}': knownHosts {path}: {e.Message}"); }
        if (text is null)
            throw new HostCatalogException(FailureKind.InvalidInput, "catalog.known-hosts", group.Location,
                $"host group '{group.Name}': knownHosts names {path}, which the infra repo does not have; commit the file (ssh-keyscan output, unhashed) or remove knownHosts");
        return KnownHostLine.Parse(text);
    }

    private static string Describe(string group, CatalogSource s) =>
        $"host group '{group}' (consul service {s.Service}" + (s.Tag is null ? "" : $", tag {s.Tag}") +
        (s.Datacenter is null ? "" : $", datacenter {s.Datacenter}") + (s.PassingOnly ? ", passing only" : "") + ")";

    // The same rules environment.schema.json applies to a static host.
    [GeneratedRegex("^[a-z][a-z0-9-]{0,62}$")] private static partial Regex HostName();
    [GeneratedRegex(@"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*)$")] private static partial Regex Address();
    [GeneratedRegex("^[a-z_][a-z0-9_-]{0,31}$")] private static partial Regex UserName();
    [GeneratedRegex("^(?:(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521) [A-Za-z0-9+/]+={0,3}|SHA256:[A-Za-z0-9+/]{43}=?)$")] private static partial Regex HostKey();
    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,63}$")] private static partial Regex VarName();

    /// <summary>One line of a known_hosts file (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): comma-separated host patterns
    /// (a name, an address, or [address]:port for a port other than 22), a key type and the key. Hashed names (|1|...),
    /// wildcards and @markers are not supported in a pinned file: such lines never match.</summary>
    private sealed record KnownHostLine(IReadOnlyList<string> Patterns, string Key)
    {
        public bool Matches(string name, string address, int port) => Patterns.Any(p =>
            port == 22 ? p == name || p == address : p == $"[{name}]:{port}" || p == $"[{address}]:{port}");

        public static List<KnownHostLine> Parse(string text)
        {
            var lines = new List<KnownHostLine>();
            foreach (var raw in text.Split('\n'))
            {
                var parts = raw.Trim().Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length < 3 || parts[0].StartsWith('#') || parts[0].StartsWith('@') || parts[0].StartsWith('|')) continue;
                var key = parts[1] + " " + parts[2];
                if (HostKey().IsMatch(key)) lines.Add(new KnownHostLine(parts[0].Split(','), key));
            }
            return lines;
        }
    }
}
