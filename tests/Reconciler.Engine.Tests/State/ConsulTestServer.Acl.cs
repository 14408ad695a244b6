namespace Reconciler.Engine.Tests.State;

/// <summary>What one ACL token may do: read or write keys under these prefixes (key_prefix rules), write sessions.</summary>
public sealed record AclRules(string[] KeyRead, string[] KeyWrite, bool SessionWrite = true)
{
    public static AclRules None { get; } = new([], [], SessionWrite: false);
}

public sealed partial class ConsulTestServer
{
    private readonly Dictionary<string, AclRules> _tokens = new(StringComparer.Ordinal);

    /// <summary>ACLs on, default deny: a request's token (X-Consul-Token; none = the anonymous token "") gets only what
    /// <see cref="AddToken"/> gave it. Off by default, as on an agent without ACLs.</summary>
    public bool AclsEnabled { get; set; }

    public void AddToken(string token, AclRules rules)
    {
        lock (_gate) _tokens[token] = rules;
    }

    /// <summary>Null: everything allowed (ACLs off).</summary>
    private AclRules? AclFor(string token)
    {
        if (!AclsEnabled) return null;
        lock (_gate) return _tokens.GetValueOrDefault(token) ?? AclRules.None;
    }

    private static bool CanRead(AclRules? acl, string key) =>
        acl is null || acl.KeyRead.Concat(acl.KeyWrite).Any(p => key.StartsWith(p, StringComparison.Ordinal));

    private static bool CanWrite(AclRules? acl, string key) =>
        acl is null || acl.KeyWrite.Any(p => key.StartsWith(p, StringComparison.Ordinal));
}
