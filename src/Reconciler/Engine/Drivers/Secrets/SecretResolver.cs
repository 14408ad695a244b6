
namespace Reconciler.Drivers.Secrets;

/// <summary>A secret reference that cannot be resolved. The message names the reference, never a value.</summary>
public sealed class SecretException(string message) : ReconcilerException(FailureKind.EnvironmentFault, message);

/// <summary>Reads a value from Consul KV (raw bytes of the key as UTF-8); null when the key does not exist.</summary>
public delegate Task<string?> ConsulKeyReader(string key, CancellationToken ct);

/// <summary>
/// Resolves `env:NAME` from the applying process's environment and `consul:path/to/key` from Consul KV, at
/// apply time only. Values are returned to the caller (which writes them to hosts) and nowhere else.
/// </summary>
public sealed class SecretResolver(ConsulKeyReader? consul = null, Func<string, string?>? environment = null) : ISecretResolver
{
    private readonly Func<string, string?> _environment = environment ?? Environment.GetEnvironmentVariable;

    public async Task<string> ResolveAsync(string reference, CancellationToken ct)
    {
        var colon = reference.IndexOf(':');
        var scheme = colon > 0 ? reference[..colon] : "";
        var name = colon > 0 ? reference[(colon + 1)..] : "";
        switch (scheme)
        {
            case "env" when name.Length > 0:
                return _environment(name)
                    ?? throw new SecretException($"secret {reference}: environment variable {name} is not set in the process running apply; " +
                                                 "export it (CI: add it to the job's secrets)");
            case "consul" when name.Length > 0:
                if (consul is null)
                    throw new SecretException($"secret {reference}: no Consul address configured (set CONSUL_HTTP_ADDR to the agent, e.g. http://127.0.0.1:8500)");
                return await consul(name.TrimStart('/'), ct)
                    ?? throw new SecretException($"secret {reference}: Consul key {name.TrimStart('/')} does not exist");
            default:
                throw new SecretException($"secret '{ReleaseLayout.Printable(reference)}': unknown reference; use env:NAME or consul:path/to/key");
        }
    }
}
