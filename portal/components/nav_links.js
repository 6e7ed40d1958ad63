// The portal's navigation as one element: a list of plain links drawn from the `links` prop
// ({href, label, icon, current}); Vue escapes every label, no HTML is taken from the server.
export default {
  template: `
    <nav :aria-label="label">
      <a v-for="link in links" :key="link.href" :href="link.href"
         :class="[linkClass, link.current ? currentClass : otherClass]"
         :aria-current="link.current ? 'page' : null">
        <q-icon v-if="icons" :name="link.icon" size="sm" aria-hidden="true" />
        <span>{{ link.label }}</span>
      </a>
    </nav>`,
  props: {
    links: Array,
    label: String,
    icons: Boolean,
    linkClass: String,
    currentClass: String,
    otherClass: String,
  },
};
