"""The measurement core: honest FLOPs, parameters, peak memory, latency, environment, isolated cells.

- :mod:`~pacabench.measure.flop_handles`: op handles for attention and ``padding='same'`` convolutions;
- :mod:`~pacabench.measure.meta_trace`: lets the JIT tracer run a model on the meta device;
- :mod:`~pacabench.measure.cost_counter`: MACs at dispatch level, by op class and by module;
- :mod:`~pacabench.measure.flops`: ``count_flops`` (the dispatch counter, cross-checked by fvcore + handles);
- :mod:`~pacabench.measure.counts`: a target counted at one size on the meta device (the rows' counts);
- :mod:`~pacabench.measure.memory`: CUDA allocator peaks and the CPU live-tensor equivalent;
- :mod:`~pacabench.measure.timing`: warm-up + repeated timing of inference or training steps;
- :mod:`~pacabench.measure.mfu`: model FLOP utilisation against a table of device peaks;
- :mod:`~pacabench.measure.env`: the environment a result was measured in;
- :mod:`~pacabench.measure.budget`: predicts a cell's time so budgets skip what would overrun;
- :mod:`~pacabench.measure.schema`: the row's columns and types (``ROW_COLUMNS``), torch-free;
- :mod:`~pacabench.measure.cell`: one cell -> one row, in-process or isolated.
"""
import warnings

# fvcore 0.1.5 decorates helpers with torch.jit.script at import; torch 2.14 deprecates that with a
# FutureWarning on every CLI call. It says nothing about the counts, so keep it out of users' output.
warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)
