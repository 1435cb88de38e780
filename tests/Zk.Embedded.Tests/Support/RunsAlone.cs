namespace Zk.Embedded.Tests.Support;

/// <summary>
/// Tests that start other processes (the zk program, sample programs, JVMs) and load both cores: they run alone,
/// after the parallel tests, so that their load does not push other tests past their deadlines.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunsAlone
{
    public const string Name = "runs alone";
}
