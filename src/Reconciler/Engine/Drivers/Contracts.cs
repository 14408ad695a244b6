using Reconciler.Schema.Model;

namespace Reconciler.Drivers;

/// <summary>Runs one health check once against one host.</summary>
public interface IHealthProbe
{
    Task<ProbeResult> ProbeAsync(HealthCheckSpec check, ProbeContext context, CancellationToken ct);
}

/// <summary>Values available for ${...} interpolation in checks, plus the host session for command checks.
/// <see cref="DeployPath"/> enables ${deploy.path} and ${release.path} (optional: without it they are unknown).</summary>
public sealed record ProbeContext(string Service, string ReleaseId, HostSpec Host, IHostSession Session, string? DeployPath = null);

public sealed record ProbeResult(bool Healthy, string Detail);

/// <summary>Fetches an artifact (repo-relative path, file:// or http(s):// URL) into a local cache and
/// verifies its sha256. Throws a user-facing error on mismatch.</summary>
public interface IArtifactFetcher
{
    Task<string> FetchAsync(ArtifactSpec artifact, CancellationToken ct);
}

/// <summary>Resolves a secret reference (env:NAME, consul:path) at apply time only.</summary>
public interface ISecretResolver
{
    Task<string> ResolveAsync(string reference, CancellationToken ct);
}

/// <summary>Makes toggle values visible to apps (consul-template reads <c>toggles/ENV/NAME</c>). Called by the executor
/// after each toggle is switched in live state, and again with the old values when a change is rolled back.
/// A null value removes the toggle.</summary>
public interface ITogglePublisher
{
    Task PublishAsync(string environment, IReadOnlyDictionary<string, bool?> toggles, CancellationToken ct);
}
