// A node on the canvas: a card with its icon, title and agent, an input handle on the left, and on the right
// one output handle or one per named outcome (a branch); badges for problems, approval, retries and a note;
// a step turned off is greyed and dashed, with an "off" badge.
import { Handle, Position } from "@vue-flow/core";
import { computed } from "vue";
import { iconFont, kindColour } from "./icons.mjs";
import { STATUSES } from "./status.mjs";

const DIFFS = ["added", "changed", "removed", "moved"];

export const AgentNode = {
  name: "FlowyardAgentNode",
  components: { Handle },
  props: ["id", "data", "selected", "connectable"],
  setup(props) {
    const handles = computed(() => (Array.isArray(props.data.handles) ? props.data.handles : null));
    const status = computed(() => STATUSES[props.data.status] || null);
    const problems = computed(() => (Array.isArray(props.data.problems) ? props.data.problems : []));
    const retries = computed(() => Number(props.data.retries) || 0);
    // a version comparison's mark: what happened to this step from the older version to the newer
    const diff = computed(() => (DIFFS.includes(props.data.diff) ? props.data.diff : null));
    const cardClass = computed(() => ({
      [`fy-status--${status.value?.css}`]: !!status.value,
      "fy-node--problem": problems.value.length > 0,
      "fy-node--branch": !!handles.value,
      [`fy-node--diff-${diff.value}`]: !!diff.value,
      "fy-node--off": !!props.data.disabled,
    }));
    const iconStyle = computed(() => ({ "--fy-kind": props.data.color || kindColour(props.data.kind) }));
    const kindIcon = computed(() => iconFont(props.data.icon || "smart_toy"));
    return { Position, handles, status, problems, retries, diff, cardClass, iconStyle, kindIcon };
  },
  template: `
    <div class="fy-node" :class="cardClass" :data-key="id" :data-status="data.status || ''">
      <div class="fy-node__stripe"></div>
      <div v-if="diff" class="fy-node__diff" :data-diff="diff">{{ diff }}</div>
      <Handle type="target" :position="Position.Left" class="fy-handle fy-handle--in" :connectable="connectable" />
      <div class="fy-node__head">
        <div class="fy-node__icon" :style="iconStyle"><i :class="kindIcon.css" aria-hidden="true">{{ kindIcon.text }}</i></div>
        <div class="fy-node__text">
          <div class="fy-node__title" :title="data.title || id">{{ data.title || id }}</div>
          <div class="fy-node__agent" :title="data.agentId">{{ data.agentId }}</div>
        </div>
        <i v-if="status" class="fy-node__status q-icon notranslate material-icons" :title="status.label">{{ status.icon }}</i>
      </div>
      <div v-if="data.needsApproval || retries > 0 || problems.length || data.note || data.disabled"
           class="fy-node__badges">
        <span v-if="data.disabled" class="fy-badge fy-badge--off" title="Turned off: runs pass its input on">
          <i class="q-icon notranslate material-icons" aria-hidden="true">block</i>off
        </span>
        <span v-if="problems.length" class="fy-badge fy-badge--problem" :data-problems="problems.length">
          <i class="q-icon notranslate material-icons" aria-hidden="true">error_outline</i>{{ problems.length }}
          <q-tooltip class="fy-tooltip" anchor="top middle" self="bottom middle" :offset="[0, 6]">
            <div class="fy-tooltip__title">{{ problems.length === 1 ? "1 problem" : problems.length + " problems" }}</div>
            <div v-for="(problem, index) in problems" :key="index" class="fy-tooltip__item">{{ problem }}</div>
          </q-tooltip>
        </span>
        <span v-if="data.needsApproval" class="fy-badge fy-badge--approval" title="Needs approval">
          <i class="q-icon notranslate material-icons" aria-hidden="true">front_hand</i>approval
        </span>
        <span v-if="retries > 0" class="fy-badge" :title="'Retries up to ' + retries + ' times'">↻{{ retries }}</span>
        <span v-if="data.note" class="fy-badge fy-badge--note">{{ data.note }}</span>
      </div>
      <div v-if="handles" class="fy-node__outcomes">
        <div v-for="name in handles" :key="name" class="fy-node__outcome" :data-handle="name">
          <span class="fy-node__outcome-label" :title="name">{{ name }}</span>
          <Handle type="source" :id="name" :position="Position.Right" class="fy-handle fy-handle--out"
                  :connectable="connectable" />
        </div>
      </div>
      <Handle v-else type="source" :position="Position.Right" class="fy-handle fy-handle--out"
              :connectable="connectable" />
    </div>
  `,
};
