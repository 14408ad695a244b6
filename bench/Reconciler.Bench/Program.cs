using Reconciler.Bench;

// reconciler-bench generate-repo DIR [--services N] [--toggles N]
// reconciler-bench git-read DIR: times Git listing/reading and the parse-cache layouts (no YAML).
// reconciler-bench seed-state DIR [REV] [STATE-URL]: writes what a full apply of REV (default HEAD) leaves in the state
// store (default: the repo's own).
// reconciler-bench read-state DIR: times reading each environment's live state from the repo's store.
// reconciler-bench plan-phases REPO [--iterations N] [--only SCENARIO]: times Planner.Plan and the plan views in-process (PlanPhasesBench).
// generate-repo writes a Git repository with N services x 3 environments (dev, staging, production) and toggles: the input of
// bench/load.sh (docs/benchmarks/repo.md).
if (args is ["generate-repo", var dir, .. var rest])
{
    var services = 5000;
    var toggles = 100;
    for (var i = 0; i + 1 < rest.Length; i += 2)
    {
        switch (rest[i])
        {
            case "--services": services = int.Parse(rest[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
            case "--toggles": toggles = int.Parse(rest[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
            default: Console.Error.WriteLine($"unknown option {rest[i]}"); return 1;
        }
    }
    var sha = RepoGenerator.Generate(dir, services, toggles);
    Console.WriteLine($"{dir}: {services} services x 3 environments, {toggles} toggles, commit {sha}");
    return 0;
}
if (args is ["git-read", var repoDir, ..])
{
    GitReadBench.Run(repoDir, rounds: 3);
    return 0;
}
if (args is ["read-state", var readDir])
    return await StateSeeder.TimeReadsAsync(readDir);
if (args is ["seed-state", var seedDir, .. var seedRest])
    return await StateSeeder.RunAsync(seedDir, seedRest is [var rev, ..] ? rev : "HEAD", seedRest is [_, var url, ..] ? url : null);
if (args is ["plan-phases", var planRepo, .. var planRest])
{
    var iterations = 5;
    string? only = null;
    for (var i = 0; i + 1 < planRest.Length; i += 2)
    {
        switch (planRest[i])
        {
            case "--iterations": iterations = int.Parse(planRest[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
            case "--only": only = planRest[i + 1]; break;
            default: Console.Error.WriteLine($"unknown option {planRest[i]}"); return 1;
        }
    }
    return PlanPhasesBench.Run(planRepo, iterations, only);
}
Console.Error.WriteLine("usage: reconciler-bench generate-repo DIR [--services 5000] [--toggles 100]\n       reconciler-bench git-read DIR\n       reconciler-bench seed-state DIR [REV] [STATE-URL]\n       reconciler-bench read-state DIR\n       reconciler-bench plan-phases REPO [--iterations 5] [--only creates|converged|one-upgrade]");
return 1;
