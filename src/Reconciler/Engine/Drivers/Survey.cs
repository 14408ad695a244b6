using System.Collections.Immutable;

namespace Reconciler.Drivers;

/// <summary>What the live probe asks about one service on a host, for <see cref="IHostSession.SurveyAsync"/>: the
/// listing of <see cref="DeployPath"/> (as <see cref="IHostSession.InspectAsync"/>), whether releases/<see cref="ReleaseDir"/>
/// is a directory (null: not asked), and <see cref="Checks"/>, run in order only when `current` points at
/// releases/<see cref="ChecksIfCurrent"/> (the checks are expanded for that release), stopping after the first that fails.</summary>
public sealed record SurveyQuery(string DeployPath, string? ReleaseDir, string? ChecksIfCurrent, ImmutableArray<SurveyCommand> Checks);

/// <summary>A command a check runs on the host and how long it may take (as <see cref="IHostSession.RunAsync"/>).</summary>
public sealed record SurveyCommand(string Command, TimeSpan Timeout);

/// <summary>The answer to one <see cref="SurveyQuery"/>. <see cref="Checks"/> holds the results of the commands that ran,
/// in order (empty when `current` did not point at the release they were expanded for); each is what
/// <see cref="IHostSession.RunAsync"/> would have returned for it.</summary>
public sealed record SurveyAnswer(HostReleases Found, bool? ReleaseDirPresent, ImmutableArray<CommandResult> Checks);
