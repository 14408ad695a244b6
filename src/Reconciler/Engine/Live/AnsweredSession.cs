using System.Collections.Immutable;
using Reconciler.Drivers;
using Reconciler.Schema.Model;

namespace Reconciler.Live;

/// <summary>A host session that answers the check commands the survey already ran (<see cref="IHostSession.SurveyAsync"/>)
/// from their results, in order, and passes every other call to the host. A command the probe asks that differs from the
/// one run (another release was current, another timeout) is run on the host as usual: an answer is only ever reused for
/// the very command line and timeout it came from.</summary>
internal sealed class AnsweredSession(IHostSession inner, IEnumerable<(SurveyCommand Command, CommandResult Result)> answered) : IHostSession
{
    private readonly Queue<(SurveyCommand Command, CommandResult Result)> _answered = new(answered);

    public HostSpec Host => inner.Host;

    public string PathOnHost(string deployPath) => inner.PathOnHost(deployPath);

    public Task<CommandResult> RunAsync(string command, TimeSpan timeout, CancellationToken ct)
    {
        lock (_answered)
        {
            if (_answered.TryPeek(out var next) && next.Command.Command == command && next.Command.Timeout == timeout)
                return Task.FromResult(_answered.Dequeue().Result);
        }
        return inner.RunAsync(command, timeout, ct);
    }

    public Task<HostReleases> InspectAsync(string deployPath, CancellationToken ct) => inner.InspectAsync(deployPath, ct);

    public Task<IReadOnlyList<SurveyAnswer>?> SurveyAsync(IReadOnlyList<SurveyQuery> queries, CancellationToken ct) => inner.SurveyAsync(queries, ct);

    public Task<long?> FreeBytesAsync(string deployPath, CancellationToken ct) => inner.FreeBytesAsync(deployPath, ct);

    public Task StageAsync(ReleaseBundle bundle, CancellationToken ct) => inner.StageAsync(bundle, ct);

    public Task ActivateAsync(string deployPath, string releaseId, string? restartCommand, CancellationToken ct) =>
        inner.ActivateAsync(deployPath, releaseId, restartCommand, ct);

    public Task<string?> ActivateAndPruneAsync(string deployPath, string releaseId, string? restartCommand, int keep,
        ImmutableArray<string> protect, CancellationToken ct) => inner.ActivateAndPruneAsync(deployPath, releaseId, restartCommand, keep, protect, ct);

    public Task PruneAsync(string deployPath, int keep, ImmutableArray<string> protect, CancellationToken ct) => inner.PruneAsync(deployPath, keep, protect, ct);

    public Task RemoveAsync(string deployPath, string? stopCommand, CancellationToken ct) => inner.RemoveAsync(deployPath, stopCommand, ct);
}
